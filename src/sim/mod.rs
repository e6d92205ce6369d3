//! The platform simulators (see issue 4).
