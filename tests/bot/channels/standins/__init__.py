"""Local stand-ins for the providers' clouds, speaking their documented wire formats."""
