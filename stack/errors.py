"""Errors of the local stack.

    StackError
     ├── ToolchainError      (no JDK 17, no Maven, a dependency that did not resolve)
     └── ServiceStartError   (a service died or never answered; names its log)
"""
from __future__ import annotations


class StackError(RuntimeError):
    """Base class of every local-stack failure."""


class ToolchainError(StackError):
    """A tool the stack needs is missing or the wrong version."""


class ServiceStartError(StackError):
    """A service failed to start; the message names its log file."""
