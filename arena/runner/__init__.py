"""The arena: builds and measures the Rust service and its Go twin side by side."""
