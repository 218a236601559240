"""Column names shared by every loader, split and model. Use these, never string literals."""

USER = "user_id"
ITEM = "item_id"
RATING = "rating"
TEXT = "text"
SUMMARY = "summary"
TIMESTAMP = "timestamp"  # seconds since the epoch (UTC); Amazon's have day resolution
ORDER = "order"  # position in the source file (0-based): breaks ties in time
SENTIMENT = "sentiment"  # 1 positive (4-5 stars), 0 negative (1-2 stars), -1 neutral (3 stars)

# Item side
TITLE = "title"
CATEGORY = "category"
DESCRIPTION = "description"

REVIEW_COLUMNS = (USER, ITEM, RATING, TEXT, SUMMARY, TIMESTAMP, ORDER)
ITEM_COLUMNS = (ITEM, TITLE, CATEGORY, DESCRIPTION)

MIN_RATING = 1.0
MAX_RATING = 5.0
