"""What every router shares: who is acting and what they may do, the auth dependency,
query parameter types. It imports no domain, so every domain may import it."""
