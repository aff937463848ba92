//! The instance-type decoder reproduces every embedded enum from the node binary it came from.

use elfcore::ElfImage;
use v8core::meta::enum_decode::decode_instance_types;
use v8core::meta::tables::TABLES;
use v8dump_testkit::{fixture, MAJORS};

#[test]
fn every_embedded_enum_is_what_its_binary_says() {
    for major in MAJORS {
        let f = fixture("basic", major);
        let exe = ElfImage::open(&f.node).unwrap();
        let got = decode_instance_types(&exe).unwrap_or_else(|e| panic!("node{major}: {e}"));
        let table = TABLES.iter().find(|t| t.node_major == major).unwrap();
        let want: Vec<(u16, String)> = table
            .instance_types
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (v, n) = l.split_once('\t')?;
                Some((v.parse().ok()?, n.to_string()))
            })
            .collect();
        assert_eq!(got.len(), want.len(), "node{major}");
        assert_eq!(got, want, "node{major}");
    }
}
