"""The POS's writes.  Modules stack one way: stock, tills (and the reports' reads) below
sales, sales below refunds."""
