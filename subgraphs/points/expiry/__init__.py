"""Points expiry, and the reminders sent before points expire."""
