"""API keys with scopes: who may call the API and what each key may do."""
