"""Speech engines: ASR, VAD and TTS behind small ports, each adapter naming its library."""
