"""The activity simulator: users, their interests and their interactions with live deals."""
