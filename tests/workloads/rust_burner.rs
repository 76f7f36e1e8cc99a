// SPDX-License-Identifier: Apache-2.0
// A Rust workload for demangling: the hot function is rust_burner::engine::Gear<u64>::grind.
// usage: rust_burner SECONDS
mod engine {
    pub struct Gear<T> {
        pub acc: T,
    }
    impl Gear<u64> {
        #[inline(never)]
        pub fn grind(&mut self, n: u64) {
            for i in 0..n {
                self.acc = std::hint::black_box(self.acc.wrapping_mul(31).wrapping_add(i));
            }
        }
    }
}

fn main() {
    let secs: f64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let end = std::time::Instant::now() + std::time::Duration::from_secs_f64(secs);
    let mut gear = engine::Gear { acc: 1u64 };
    while std::time::Instant::now() < end {
        gear.grind(200_000);
    }
    println!("{}", gear.acc);
}
