"""Words for the synthetic catalog: a category tree with product nouns, brands and adjectives.

Fictional brand names (no trademarks); nouns are what shoppers type, so queries built from them
look like real e-commerce searches. Median prices per leaf drive the lognormal price model.
"""
from __future__ import annotations

# (root, child, leaf noun, median price)
LEAVES: list[tuple[str, str, str, float]] = [
    ("electronics", "phones", "smartphone", 420.0),
    ("electronics", "phones", "phone case", 18.0),
    ("electronics", "phones", "usb charger", 22.0),
    ("electronics", "audio", "headphones", 90.0),
    ("electronics", "audio", "earbuds", 60.0),
    ("electronics", "audio", "bluetooth speaker", 70.0),
    ("electronics", "computers", "laptop", 900.0),
    ("electronics", "computers", "keyboard", 45.0),
    ("electronics", "computers", "mouse", 25.0),
    ("electronics", "computers", "monitor", 220.0),
    ("fashion", "shoes", "running shoes", 95.0),
    ("fashion", "shoes", "sneakers", 80.0),
    ("fashion", "shoes", "boots", 120.0),
    ("fashion", "shoes", "sandals", 40.0),
    ("fashion", "clothing", "t shirt", 20.0),
    ("fashion", "clothing", "hoodie", 45.0),
    ("fashion", "clothing", "jeans", 60.0),
    ("fashion", "clothing", "rain jacket", 110.0),
    ("fashion", "accessories", "backpack", 55.0),
    ("fashion", "accessories", "watch", 150.0),
    ("fashion", "accessories", "sunglasses", 35.0),
    ("home", "kitchen", "coffee maker", 80.0),
    ("home", "kitchen", "frying pan", 35.0),
    ("home", "kitchen", "knife set", 65.0),
    ("home", "kitchen", "blender", 70.0),
    ("home", "furniture", "desk chair", 180.0),
    ("home", "furniture", "bookshelf", 120.0),
    ("home", "furniture", "sofa", 650.0),
    ("home", "decor", "table lamp", 40.0),
    ("home", "decor", "throw pillow", 20.0),
    ("home", "decor", "wall clock", 30.0),
    ("sports", "fitness", "yoga mat", 30.0),
    ("sports", "fitness", "dumbbells", 50.0),
    ("sports", "fitness", "resistance bands", 18.0),
    ("sports", "outdoor", "tent", 160.0),
    ("sports", "outdoor", "sleeping bag", 75.0),
    ("sports", "outdoor", "hiking backpack", 95.0),
    ("sports", "cycling", "bike helmet", 55.0),
    ("sports", "cycling", "bike light", 25.0),
    ("beauty", "skincare", "face cream", 28.0),
    ("beauty", "skincare", "sunscreen", 15.0),
    ("beauty", "skincare", "serum", 32.0),
    ("beauty", "haircare", "shampoo", 12.0),
    ("beauty", "haircare", "hair dryer", 60.0),
    ("toys", "games", "board game", 35.0),
    ("toys", "games", "puzzle", 20.0),
    ("toys", "building", "building blocks", 45.0),
    ("toys", "plush", "plush toy", 18.0),
]

BRANDS: dict[str, list[str]] = {
    "electronics": ["Voltaris", "Nexon", "Auralis", "Kivo", "Tekstra", "Lumora"],
    "fashion": ["Nordby", "Kestrel", "Maren & Co", "Urbano", "Fjeld", "Salto"],
    "home": ["Casalto", "Hearthly", "Oakwell", "Brenna", "Domio", "Lindqvist"],
    "sports": ["Trailmark", "Peakform", "Vantor", "Ridgeway", "Strida", "Ostrom"],
    "beauty": ["Lumiel", "Verdana", "Solis", "Aveline", "Purra"],
    "toys": ["Brickly", "Playwell", "Tumble", "Kazoo", "Minimo"],
}

ADJECTIVES: dict[str, list[str]] = {
    "electronics": ["wireless", "portable", "compact", "fast", "smart", "noise cancelling", "pro"],
    "fashion": ["lightweight", "waterproof", "classic", "slim", "leather", "organic cotton", "vintage"],
    "home": ["stainless", "modern", "oak", "ceramic", "compact", "ergonomic", "vintage"],
    "sports": ["lightweight", "waterproof", "durable", "foldable", "ultralight", "adjustable"],
    "beauty": ["organic", "hydrating", "gentle", "travel size", "fragrance free"],
    "toys": ["wooden", "classic", "educational", "soft", "giant", "family"],
}

SUFFIXES = ["", "", "", " Pro", " 2", " X", " Plus", " Mini", " Max", " Lite", " 500", " Air"]

SEGMENTS = ("new", "casual", "loyal", "power")
# relative session rate of a user of each segment
SEGMENT_ACTIVITY = {"new": 1.0, "casual": 0.6, "loyal": 2.0, "power": 4.5}

# relative traffic by UTC hour (two peaks: lunch and evening)
HOUR_WEIGHTS = [0.20, 0.12, 0.08, 0.06, 0.06, 0.10, 0.25, 0.50, 0.80, 0.90, 1.00, 1.10,
                1.20, 1.10, 1.00, 1.00, 1.05, 1.10, 1.30, 1.50, 1.60, 1.40, 0.90, 0.50]
# Monday .. Sunday
WEEKDAY_WEIGHTS = [0.95, 0.93, 0.97, 1.00, 1.05, 1.18, 1.12]

UNKNOWN_EVENT_TYPES = ["clik", "VIEWED", "hover", "wishlist", "purchse"]
