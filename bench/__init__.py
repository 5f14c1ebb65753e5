"""`make bench`: Bespin measured beside raw RQ on the same machine, in the same run."""
