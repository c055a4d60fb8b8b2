"""What a counter does, each in one transaction: look up, pre-settle, settle, refund, bind."""
