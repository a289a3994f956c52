"""What the server vouches for: trusted keys, signatures, receipt keys, event ids, signing-key files."""
