"""In-memory adapters of every port: the embedded default's shared state, and the test fakes."""
