"""Scanners, badge readers and locker locks, each with a simulated twin. No Flask here."""
