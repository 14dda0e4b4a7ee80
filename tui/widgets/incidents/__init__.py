"""The incident board: the table of incidents and one incident's detail, tasks and timeline."""
