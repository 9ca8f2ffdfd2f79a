"""The app core: capture, perception, memory, agents. Never imports Qt."""
