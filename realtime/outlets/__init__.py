"""Where live results go besides the window and the session: Lab Streaming Layer (``lsl``)."""
