"""What Duet saves: the conversation history database and the plain-dict records of turns."""
