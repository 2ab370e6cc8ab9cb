"""The points program's domain logic, one module per job. No web framework here: functions
take a session, raise ``PointsError`` for expected failures and never commit."""
