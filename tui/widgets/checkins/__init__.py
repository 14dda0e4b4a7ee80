"""Roll calls (who is safe, who needs help, who has not answered) and the FLASH messages I still owe an ack."""
