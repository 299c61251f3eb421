//! Keys given twice in a JSON body. A JSON value keeps the last of two equal keys and
//! drops the other without a word (`"fraud_type"` twice: the second wins), so a report is
//! first walked as it was written, and every repeated key is refused.

use std::collections::HashSet;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// The paths (`victim.name`, `transfers[1].amount_fen`) of the keys `body` gives more than
/// once in one object, in the order they come; an error if `body` is not JSON.
pub fn duplicate_keys(body: &[u8]) -> Result<Vec<String>, serde_json::Error> {
    let mut found = Vec::new();
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    Walk { path: String::new(), found: &mut found }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(found)
}

/// A walk through one value at `path`, noting repeated keys in `found`.
struct Walk<'a> {
    path: String,
    found: &'a mut Vec<String>,
}

impl Walk<'_> {
    fn child(&self, step: &str) -> String {
        if self.path.is_empty() { step.to_owned() } else { format!("{}.{step}", self.path) }
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = self.child(&key);
            if !seen.insert(key) {
                self.found.push(path.clone());
            }
            map.next_value_seed(Walk { path, found: &mut *self.found })?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        loop {
            let path = format!("{}[{index}]", self.path);
            if seq.next_element_seed(Walk { path, found: &mut *self.found })?.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_i128<E>(self, _: i128) -> Result<(), E> {
        Ok(())
    }

    fn visit_u128<E>(self, _: u128) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        DeserializeSeed::deserialize(self, deserializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_given_twice_anywhere_is_named_by_its_path() {
        let body = br#"{"fraud_type":"online_loan","victim":{"name":"a","name":"b"},
            "transfers":[{"amount_fen":1},{"amount_fen":2,"amount_fen":3}],"fraud_type":"stock_tips"}"#;
        assert_eq!(duplicate_keys(body).unwrap(), ["victim.name", "transfers[1].amount_fen", "fraud_type"]);
        assert!(
            duplicate_keys(br#"{"a":{"b":1},"c":[{"b":2}]}"#).unwrap().is_empty(),
            "equal keys of different objects"
        );
        assert!(duplicate_keys(b"{").is_err());
        assert!(duplicate_keys(b"{} trailing").is_err());
    }
}
