"""The peers table: each peer, how it was found, its link, entries exchanged and the last sync."""
