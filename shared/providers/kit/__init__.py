"""What providers share: HTTP paging and failure classes, egress, money, the FOCUS builder."""
