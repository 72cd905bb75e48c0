"""Informers, work queues, delayed requeues, controller workers and the clock they share."""
