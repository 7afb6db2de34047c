-- Responses counted by status since the last flush, on this worker.
counts = {}
