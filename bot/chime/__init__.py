"""Amazon Chime, outbound: the `Directory` the workflow asks, the call and retry engine behind it,
the client factory, what each failure means, the circuit breaker, lookups, choosing an account
and CreateUser exactly once.
"""
