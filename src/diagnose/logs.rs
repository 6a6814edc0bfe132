//! STUB (replaced by the real scanner).
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct Signature {
    pub id: &'static str,
    pub title: &'static str,
    pub remediation: &'static str,
}
pub static SIGNATURES: &[Signature] = &[];
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SignatureHits {
    pub id: &'static str,
    pub count: u64,
    pub first: Option<String>,
    pub last: Option<String>,
    pub examples: Vec<String>,
    pub subjects: Vec<String>,
}
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LogScan {
    pub files: Vec<String>,
    pub lines: u64,
    pub hits: Vec<SignatureHits>,
    pub unreadable: Vec<(String, String)>,
}
pub fn scan_files(_paths: &[std::path::PathBuf]) -> LogScan {
    LogScan::default()
}
