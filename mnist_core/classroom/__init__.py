"""A class of devices: the teacher's key and links, per-device rate limits, joining (address, QR
code, https), watchers of the Train page, and the class wall."""
