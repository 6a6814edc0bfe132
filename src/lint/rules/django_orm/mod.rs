pub mod dispatch_inside_atomic_block;
