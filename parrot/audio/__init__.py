"""Audio in and out: the microphone and speaker ports and their adapters."""
