"""The transforms and schemas that streaming and batch both run, and the sink they share."""
