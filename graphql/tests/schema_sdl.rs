//! The checked-in SDL is the public contract: it must match what the code serves.
//! Regenerate with `cargo run -- schema > graphql/schema.graphql` and review the diff.

#[test]
fn checked_in_schema_matches_the_code() {
    let checked_in = include_str!("../schema.graphql");
    let served = steerco_graphql::schema::sdl();
    assert!(
        checked_in == served,
        "graphql/schema.graphql is out of date; run `cargo run -- schema > graphql/schema.graphql`"
    );
}
