"""Contract fakes: small real servers that speak a third-party API as documented, so
clients are tested over real sockets without the real (GPU-hungry) service."""
