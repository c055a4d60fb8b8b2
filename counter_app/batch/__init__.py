"""Agency batches over the store: monthly crediting, interest, the monthly declaration, monitoring."""
