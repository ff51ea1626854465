//! A realistic demo catalog: a few hundred products over twenty categories, the same every
//! time (a fixed pseudo-random sequence), so a newcomer can try the API at once.

use emporium_core::Money;

use crate::product::ProductFields;

const CATEGORIES: [(&str, [&str; 6]); 20] = [
    (
        "Laptops",
        [
            "Ultrabook",
            "Gaming Laptop",
            "Chromebook",
            "Workstation",
            "Convertible",
            "Notebook",
        ],
    ),
    (
        "Phones",
        [
            "Smartphone",
            "Flip Phone",
            "Rugged Phone",
            "Phone Case",
            "Screen Protector",
            "Charger",
        ],
    ),
    (
        "Audio",
        [
            "Headphones",
            "Earbuds",
            "Bluetooth Speaker",
            "Soundbar",
            "Turntable",
            "Microphone",
        ],
    ),
    (
        "Cameras",
        [
            "Mirrorless Camera",
            "Action Camera",
            "Tripod",
            "Camera Bag",
            "Lens",
            "Memory Card",
        ],
    ),
    (
        "Books",
        [
            "Cookbook",
            "Novel",
            "Field Guide",
            "Atlas",
            "Poetry Collection",
            "Biography",
        ],
    ),
    (
        "Kitchen",
        [
            "Chef Knife",
            "Cast Iron Pan",
            "Espresso Machine",
            "Kettle",
            "Cutting Board",
            "Blender",
        ],
    ),
    (
        "Garden",
        [
            "Pruning Shears",
            "Watering Can",
            "Seed Kit",
            "Garden Hose",
            "Planter",
            "Wheelbarrow",
        ],
    ),
    (
        "Toys",
        [
            "Building Blocks",
            "Puzzle",
            "Plush Bear",
            "Kite",
            "Board Game",
            "Toy Train",
        ],
    ),
    (
        "Sports",
        [
            "Yoga Mat",
            "Football",
            "Tennis Racket",
            "Dumbbells",
            "Jump Rope",
            "Water Bottle",
        ],
    ),
    (
        "Outdoor",
        [
            "Tent",
            "Sleeping Bag",
            "Backpack",
            "Headlamp",
            "Camping Stove",
            "Hiking Poles",
        ],
    ),
    (
        "Clothing",
        [
            "Rain Jacket",
            "Wool Sweater",
            "T-Shirt",
            "Jeans",
            "Scarf",
            "Beanie",
        ],
    ),
    (
        "Shoes",
        [
            "Running Shoes",
            "Hiking Boots",
            "Sandals",
            "Sneakers",
            "Slippers",
            "Rain Boots",
        ],
    ),
    (
        "Beauty",
        [
            "Face Cream",
            "Shampoo",
            "Lip Balm",
            "Sunscreen",
            "Hair Brush",
            "Soap Bar",
        ],
    ),
    (
        "Office",
        [
            "Desk Lamp",
            "Notebook Set",
            "Fountain Pen",
            "Desk Organizer",
            "Stapler",
            "Monitor Stand",
        ],
    ),
    (
        "Furniture",
        [
            "Armchair",
            "Bookshelf",
            "Side Table",
            "Desk Chair",
            "Floor Lamp",
            "Stool",
        ],
    ),
    (
        "Pets",
        [
            "Dog Bed",
            "Cat Tree",
            "Leash",
            "Pet Bowl",
            "Chew Toy",
            "Litter Box",
        ],
    ),
    (
        "Games",
        [
            "Game Controller",
            "Gaming Mouse",
            "Mechanical Keyboard",
            "Headset Stand",
            "Mouse Pad",
            "Capture Card",
        ],
    ),
    (
        "Music",
        [
            "Acoustic Guitar",
            "Ukulele",
            "Keyboard Piano",
            "Drum Pad",
            "Guitar Strings",
            "Metronome",
        ],
    ),
    (
        "Tools",
        [
            "Cordless Drill",
            "Screwdriver Set",
            "Tape Measure",
            "Hammer",
            "Level",
            "Socket Wrench",
        ],
    ),
    (
        "Grocery",
        [
            "Coffee Beans",
            "Green Tea",
            "Olive Oil",
            "Dark Chocolate",
            "Honey",
            "Granola",
        ],
    ),
];

const ADJECTIVES: [&str; 12] = [
    "Classic",
    "Compact",
    "Deluxe",
    "Eco",
    "Essential",
    "Nordic",
    "Pro",
    "Rapid",
    "Silent",
    "Smart",
    "Urban",
    "Vintage",
];

/// A small deterministic generator (an LCG), so the demo is the same on every run.
struct Sequence(u64);

impl Sequence {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below.max(1)
    }
}

/// `count` demo products over twenty categories.
pub fn products(count: usize) -> Vec<ProductFields> {
    let mut seq = Sequence(0x5eed);
    (0..count)
        .map(|n| {
            let (category, nouns) = CATEGORIES[n % CATEGORIES.len()];
            let noun = nouns[(n / CATEGORIES.len()) % nouns.len()];
            let adjective = ADJECTIVES[seq.next(ADJECTIVES.len() as u64) as usize];
            let model = 100 + n;
            let price = Money::from_cents(((seq.next(49_900) + 100) as i64 / 10) * 10 - 1);
            // One product in ten is sold out, so `in_stock` filters something.
            let stock = if seq.next(10) == 0 {
                0
            } else {
                seq.next(250) as i32 + 1
            };
            ProductFields {
                name: format!("{adjective} {noun} {model}"),
                description: format!(
                    "The {adjective} {noun} {model} is a {} favourite in our {} range: well made, \
                     fairly priced and ready to ship.",
                    adjective.to_lowercase(),
                    category.to_lowercase()
                ),
                price,
                stock,
                category: category.to_string(),
                image_url: Some(format!("https://images.example.com/demo/{}.jpg", model)),
            }
        })
        .collect()
}

/// Creates `count` demo products owned by `owner`, in one transaction. Returns how many.
pub fn load(
    conn: &mut emporium_db::Conn,
    owner: emporium_core::UserId,
    count: usize,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<usize, crate::CatalogError> {
    let products = products(count);
    emporium_db::write_transaction(conn, |conn| {
        for (n, fields) in products.iter().cloned().enumerate() {
            // Spread creation times so "newest" and "oldest" differ visibly.
            let at = now - chrono::Duration::minutes((count - n) as i64);
            crate::manage::create(conn, owner, fields, at)?;
        }
        Ok(count)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn demo_products_are_valid_varied_and_stable() {
        let products = super::products(300);
        assert_eq!(products.len(), 300);
        assert_eq!(products, super::products(300), "the same every run");
        let categories: std::collections::HashSet<_> =
            products.iter().map(|p| p.category.clone()).collect();
        assert_eq!(categories.len(), 20);
        assert!(
            products
                .iter()
                .all(|p| p.price.cents() > 0 && p.price <= emporium_core::Money::MAX_INPUT)
        );
        assert!(products.iter().any(|p| p.stock == 0) && products.iter().any(|p| p.stock > 0));
        let names: std::collections::HashSet<_> = products.iter().map(|p| p.name.clone()).collect();
        assert_eq!(names.len(), 300, "names are unique");
    }
}
