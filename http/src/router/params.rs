//! TEMPORARY stand-in (being written separately).
#![allow(missing_docs)]
#[derive(Debug, Clone, Default)]
pub struct Params(pub(crate) Vec<(String, String)>);
impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}
