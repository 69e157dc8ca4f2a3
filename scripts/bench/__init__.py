"""`jbts bench`: the API's basic operations, measured on a scratch database."""
