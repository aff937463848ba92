//! `inspect` on every value kind of fixtures/scenarios/objects.js, on all four versions. The
//! expected values are the ones the scenario's source writes (not v8dump output).

use v8core::heap::index::no_progress;
use v8core::inspect::{Inspector, Limits, Value};
use v8core::objects::census::Scope;
use v8core::objects::reader::{Elements, Key};
use v8core::{Heap, OpenOptions, Process};
use v8dump_testkit::{fixture, fixture_arm64, Fixture, ARM64_MAJORS, MAJORS};

struct Fx<'h> {
    heap: &'h Heap,
    fx: u64,
    major: u32,
}

impl<'h> Fx<'h> {
    fn find(heap: &'h Heap, major: u32) -> Fx<'h> {
        let r = heap.reader();
        let fx = heap
            .instances("Object", Scope::Reachable)
            .into_iter()
            .map(|i| heap.index.tagged(i))
            .find(|&o| {
                let keys: Vec<Key> = r
                    .own_properties(o, 200)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|p| p.key)
                    .collect();
                keys.contains(&Key::Name("strSeqOneByte".into()))
                    && keys.contains(&Key::Name("classes".into()))
            })
            .unwrap_or_else(|| panic!("node{major}: globalThis.objectsFixture not found"));
        Fx { heap, fx, major }
    }

    fn prop(&self, obj: u64, key: &str) -> u64 {
        self.heap
            .reader()
            .own_properties(obj, 1000)
            .unwrap_or_default()
            .into_iter()
            .find(|p| p.key == Key::Name(key.into()))
            .map(|p| p.value)
            .unwrap_or_else(|| panic!("node{}: no property {key} on {obj:#x}", self.major))
    }

    /// Element `i` of the fixture list `key`.
    fn item(&self, key: &str, i: usize) -> u64 {
        let list = self.prop(self.fx, key);
        match self.heap.reader().elements(list, 1000) {
            Some(Elements::Tagged { values, .. }) => values[i],
            e => panic!("node{}: {key} is not a tagged array: {e:?}", self.major),
        }
    }

    fn show(&self, w: u64, depth: usize) -> Value {
        Inspector::new(
            self.heap,
            Limits {
                depth,
                entries: 100,
                string: 100,
            },
        )
        .value(w)
    }

    fn inspect(&self, key: &str, i: usize) -> Value {
        self.show(self.item(key, i), 1)
    }
}

fn entry<'a>(v: &'a Value, key: &str) -> &'a Value {
    &v.entries
        .iter()
        .find(|e| e.key == key)
        .unwrap_or_else(|| panic!("no entry {key} in {v:#?}"))
        .value
}

fn text(v: &Value) -> &str {
    v.text.as_deref().unwrap_or("")
}

fn detail<'a>(v: &'a Value, k: &str) -> &'a str {
    v.details
        .iter()
        .find(|(n, _)| n == k)
        .map(|(_, d)| d.as_str())
        .unwrap_or("")
}

fn check(f: &Fixture, major: u32, arch: &str) {
    let opts = OpenOptions {
        executable: Some(f.node.clone()),
        ..Default::default()
    };
    let p = Process::open(&f.core, &opts).unwrap();
    let heap = Heap::load(p, &no_progress);
    let fx = Fx::find(&heap, major);
    let ctx = |what: &str| format!("{arch} node{major} {what}");

    // Classes and inheritance.
    let v = fx.inspect("Puppy", 5);
    assert_eq!(v.constructor.as_deref(), Some("Puppy"), "{}", ctx("Puppy"));
    assert_eq!(text(entry(&v, "name")), "puppy-5");
    assert_eq!(text(entry(&v, "age")), "5");
    assert_eq!(text(entry(&v, "weight")), "8.25");
    assert_eq!(text(entry(&v, "breed")), "husky");
    assert_eq!(entry(&v, "toy").constructor.as_deref(), Some("Object"));
    let v = fx.inspect("literals", 3);
    assert_eq!(text(entry(&v, "label")), "point-3");
    assert_eq!(text(entry(&v, "y")), "6");
    // 40 properties added by keyed stores, in insertion order, then `id`.
    let v = fx.inspect("ManyProps", 2);
    let keys: Vec<&str> = v.entries.iter().map(|e| e.key.as_str()).collect();
    let want: Vec<String> = (0..40)
        .map(|k| format!("p{k}"))
        .chain(["id".into()])
        .collect();
    assert_eq!(keys, want, "{}", ctx("ManyProps"));
    let v = fx.inspect("ManyFastProps", 1);
    assert_eq!(text(entry(&v, "p20")), "twenty", "{}", ctx("ManyFastProps"));
    assert_eq!(text(entry(&v, "p21")), "21.5");
    // Deleted property: dictionary mode, `b` gone.
    let v = fx.inspect("DictByDelete", 4);
    assert_eq!(
        detail(&v, "properties"),
        "dictionary",
        "{}",
        ctx("DictByDelete")
    );
    let keys: Vec<&str> = v.entries.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["a", "c", "d", "e"]);
    let v = fx.inspect("nullProto", 7);
    assert_eq!(text(entry(&v, "kind")), "null-proto");
    assert_eq!(text(entry(&v, "i")), "7");

    // Arrays of every elements kind.
    let elems = |v: &Value| -> Vec<(String, String)> {
        v.entries
            .iter()
            .filter(|e| e.section.as_str() == "element")
            .map(|e| (e.key.clone(), text(&e.value).to_string()))
            .collect()
    };
    let pairs = |xs: &[(&str, &str)]| -> Vec<(String, String)> {
        xs.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    let v = fx.inspect("arrPackedSmi", 2);
    assert_eq!((v.kind.as_str(), v.length), ("array", Some(4)));
    assert_eq!(detail(&v, "elements_kind"), "PACKED_SMI_ELEMENTS");
    assert_eq!(
        elems(&v),
        pairs(&[("[0]", "2"), ("[1]", "3"), ("[2]", "4"), ("[3]", "5")])
    );
    let v = fx.inspect("arrHoleySmi", 2);
    assert_eq!(detail(&v, "elements_kind"), "HOLEY_SMI_ELEMENTS");
    assert_eq!(elems(&v), pairs(&[("[0]", "2"), ("[2]", "4")]));
    let v = fx.inspect("arrPackedDouble", 1);
    assert_eq!(detail(&v, "elements_kind"), "PACKED_DOUBLE_ELEMENTS");
    assert_eq!(
        elems(&v),
        pairs(&[("[0]", "1.5"), ("[1]", "2.5"), ("[2]", "3.5")])
    );
    let v = fx.inspect("arrHoleyDouble", 1);
    assert_eq!(detail(&v, "elements_kind"), "HOLEY_DOUBLE_ELEMENTS");
    assert_eq!(elems(&v), pairs(&[("[0]", "1.5"), ("[2]", "3.5")]));
    let v = fx.inspect("arrPacked", 3);
    assert_eq!(detail(&v, "elements_kind"), "PACKED_ELEMENTS");
    assert_eq!(text(entry(&v, "[1]")), "elem-3");
    let v = fx.inspect("arrHoley", 3);
    assert_eq!(detail(&v, "elements_kind"), "HOLEY_ELEMENTS");
    assert_eq!(text(entry(&v, "[2]")), "elem-3");
    assert!(v.entries.iter().all(|e| e.key != "[1]"));
    let v = fx.inspect("arrDictionary", 4);
    assert_eq!(
        detail(&v, "elements_kind"),
        "DICTIONARY_ELEMENTS",
        "{}",
        ctx("arrDictionary")
    );
    assert_eq!(v.length, Some(1_000_005));
    assert_eq!(text(entry(&v, "[1000004]")), "sparse-4");
    assert_eq!(text(entry(&v, "[1]")), "5");
    let v = fx.inspect("arrFrozen", 4);
    assert_eq!(detail(&v, "elements_kind"), "PACKED_FROZEN_ELEMENTS");
    assert_eq!(text(entry(&v, "[1]")), "frozen-4");
    let v = fx.inspect("largeSmiArray", 0);
    assert_eq!(v.length, Some(200_000));
    assert!(v.truncated);
    assert_eq!(text(entry(&v, "[99]")), "99");
    let v = fx.inspect("largeDoubleArray", 0);
    assert_eq!(v.length, Some(50_000));
    assert_eq!(text(entry(&v, "[10]")), "10.5");

    // Map and Set.
    let v = fx.inspect("maps", 6);
    assert_eq!(
        (v.kind.as_str(), v.length),
        ("map", Some(11)),
        "{}",
        ctx("maps")
    );
    let e = &v.entries[3];
    assert_eq!(e.key_value.as_ref().map(|k| text(k)), Some("key-6-3"));
    let v2 = fx.show(fx.item("maps", 6), 2);
    assert_eq!(text(entry(&v2.entries[3].value, "v")), "3");
    let v = fx.inspect("sets", 2);
    assert_eq!((v.kind.as_str(), v.length), ("set", Some(10)));
    assert_eq!(text(&v.entries[9].value), "member-2-9");
    let v = fx.inspect("weakMaps", 1);
    assert_eq!(v.length, Some(1));
    assert_eq!(text(&v.entries[0].value), "weak-1");

    // Closures: name and captured variables.
    let v = fx.inspect("closures", 4);
    assert_eq!(
        (v.kind.as_str(), text(&v)),
        ("function", "counterTick"),
        "{}",
        ctx("closure")
    );
    assert_eq!(text(entry(&v, "count")), "5");
    assert_eq!(text(entry(&v, "label")), "counter-4");
    assert!(detail(&v, "script").ends_with("objects.js"));

    // Promises.
    assert_eq!(
        detail(&fx.inspect("promisesPending", 0), "state"),
        "pending"
    );
    let v = fx.show(fx.item("promisesResolved", 3), 2);
    assert_eq!(detail(&v, "state"), "fulfilled", "{}", ctx("promise"));
    assert_eq!(
        text(entry(entry(&v, "[[PromiseResult]]"), "resolvedValue")),
        "3"
    );
    let v = fx.inspect("promisesRejected", 2);
    assert_eq!(detail(&v, "state"), "rejected");
    assert_eq!(text(entry(&v, "[[PromiseResult]]")), "rejected-2");

    // Typed arrays and buffers (on-heap for the first ten, off-heap after).
    for (key, i, len, first) in [
        ("uint8Arrays", 3, 16, "3"),
        ("uint8Arrays", 12, 1024, "12"),
        ("float64Arrays", 2, 4, "2.125"),
        ("float64Arrays", 15, 512, "15.125"),
        ("int32Arrays", 7, 8, "-7"),
        ("int32Arrays", 11, 256, "-11"),
    ] {
        let v = fx.inspect(key, i);
        assert_eq!(
            (v.kind.as_str(), v.length),
            ("typed_array", Some(len)),
            "{}",
            ctx(key)
        );
        assert_eq!(text(entry(&v, "[0]")), first, "{}", ctx(key));
    }
    let v = fx.inspect("arrayBuffers", 5);
    assert_eq!((v.kind.as_str(), v.length), ("array_buffer", Some(4096)));

    // BigInt (expected values computed with Python: 5 * 1000003 + 7, 2**200 * 6 + 12345).
    assert_eq!(text(&fx.inspect("bigintsSmall", 5)), "5000022n");
    assert_eq!(
        text(&fx.inspect("bigintsLarge", 5)),
        "9641628265553941653251772554046975615133217962696757011820601n"
    );

    // Strings of every representation.
    let v = fx.inspect("strSeqOneByte", 9);
    assert_eq!(
        (text(&v), detail(&v, "representation")),
        ("seq-one-byte-9", "sequential")
    );
    let v = fx.inspect("strLatin1", 9);
    assert_eq!(
        (text(&v), detail(&v, "encoding")),
        ("caf\u{e9}-latin1-9", "one-byte")
    );
    let v = fx.inspect("strSeqTwoByte", 9);
    assert_eq!(
        (text(&v), detail(&v, "encoding")),
        ("\u{4e2d}\u{6587}-two-byte-9", "two-byte")
    );
    let v = fx.inspect("strCons", 9);
    assert_eq!(detail(&v, "representation"), "cons", "{}", ctx("cons"));
    assert_eq!(
        text(&v),
        "the-quick-brown-fox-jumps-9-over-the-lazy-dog-again-and-again"
    );
    let v = fx.inspect("strConsTwoByte", 9);
    assert_eq!(detail(&v, "representation"), "cons");
    assert!(
        text(&v).starts_with("\u{4e2d}\u{6587}\u{5b57}")
            && text(&v).ends_with("9-over-the-lazy-dog-again-and-again")
    );
    let parent: String = (0..60)
        .map(|k| format!("parent{k}"))
        .collect::<Vec<_>>()
        .join("|");
    let v = fx.inspect("strSliced", 9);
    assert_eq!(detail(&v, "representation"), "sliced", "{}", ctx("sliced"));
    assert_eq!(text(&v), &parent[9..49]);
    let v = fx.inspect("strThin", 9);
    assert_eq!(text(&v), "the-quick-brown-fox-jumps-thin-key-9");
    let v = fx.inspect("strExternal", 0);
    assert_eq!(
        detail(&v, "representation"),
        "external",
        "{}",
        ctx("external")
    );
    assert_eq!(v.length, Some(1_100_000));
    assert!(v.truncated && text(&v).starts_with("EXTERNAL-ONE-BYTE-STRING:aaaa"));
    let v = fx.inspect("strExternal", 1);
    assert_eq!(
        (detail(&v, "representation"), detail(&v, "encoding")),
        ("external", "two-byte")
    );
    assert!(text(&v).starts_with("EXTERNAL-TWO-BYTE-STRING:\u{4e2d}"));

    // Date, RegExp, Error, Symbol, boxed primitives, generators, proxies, WeakRef.
    assert_eq!(text(&fx.inspect("dates", 4)), "2024-01-05T12:30:04.000Z");
    let v = fx.inspect("regexps", 4);
    assert_eq!(
        (v.kind.as_str(), text(&v)),
        ("regexp", "/fixture-(\\d+)-4/gi"),
        "{}",
        ctx("regexp")
    );
    let v = fx.inspect("errors", 4);
    assert_eq!((v.kind.as_str(), text(&v)), ("error", "plain error 4"));
    let v = fx.inspect("typeErrors", 4);
    assert_eq!(v.constructor.as_deref(), Some("TypeError"));
    let v = fx.inspect("FixtureError", 4);
    assert_eq!(v.constructor.as_deref(), Some("FixtureError"));
    assert_eq!(text(entry(&v, "code")), "E_FIXTURE_4");
    assert_eq!(text(&fx.inspect("symbols", 4)), "Symbol(fixture-symbol-4)");
    assert_eq!(text(&fx.inspect("boxedNumbers", 4)), "4.5");
    assert_eq!(text(&fx.inspect("boxedStrings", 4)), "boxed-4");
    assert_eq!(
        fx.inspect("generators", 4).constructor.as_deref(),
        Some("fixtureGenerator")
    );
    assert_eq!(fx.inspect("proxies", 4).kind.as_str(), "object");
    assert_eq!(
        fx.inspect("weakRefs", 1).constructor.as_deref(),
        Some("WeakRef")
    );
}

#[test]
fn inspect_renders_every_value_kind_on_every_version() {
    for major in MAJORS {
        check(&fixture("exact_objects", major), major, "x64");
    }
}

/// The same values on the linux-arm64 builds' cores (made under qemu-user).
#[test]
fn inspect_renders_every_value_kind_on_arm64() {
    for major in ARM64_MAJORS {
        check(&fixture_arm64("exact_objects", major), major, "arm64");
    }
}

#[test]
fn garbage_addresses_give_marked_answers() {
    let f = fixture("exact_objects", 20);
    let p = Process::open(&f.core, &OpenOptions::default()).unwrap();
    let heap = Heap::load(p, &no_progress);
    let page = heap.p.pages.pages[3].base.0;
    let obj = heap.index.tagged(1000);
    for w in [
        1u64,
        0xdead_beef,
        u64::MAX,
        page + 1,
        page + 9,
        obj + 8,
        obj | 2,
        0x7fff_ffff_f001,
    ] {
        let v = Inspector::new(&heap, Limits::default()).value(w);
        assert!(
            matches!(v.kind.as_str(), "unreadable" | "number" | "internal"),
            "{w:#x} rendered as {v:?}"
        );
    }
}

/// A closure over 80 context locals (names.js): more than a ScopeInfo inlines (75), so V8 keeps
/// their names in a hash table; each is named, with the value the scenario gave it (k * 7).
#[test]
fn closure_variables_named_from_a_scope_info_hash_table() {
    for major in MAJORS {
        let f = fixture("names", major);
        let want = f.stats["extra"]["huge_closure_locals"].as_u64().unwrap() as usize;
        let p = Process::open(&f.core, &OpenOptions::default()).unwrap();
        let heap = Heap::load(p, &no_progress);
        let (holder, closure) = v8core::graph::search::objects_with_property(&heap, "hugeClosure")
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("node{major}: no namesFixture.hugeClosure"));
        assert!(heap.marking.is_marked(holder));
        let limits = Limits {
            depth: 1,
            entries: 1000,
            string: 100,
        };
        let v = Inspector::new(&heap, limits).value(closure);
        let vars: Vec<(String, String)> = v
            .entries
            .iter()
            .filter(|e| e.section.as_str() == "context" && !e.key.contains("(outer"))
            .map(|e| (e.key.clone(), e.value.text.clone().unwrap_or_default()))
            .collect();
        assert_eq!(vars.len(), want, "node{major}: {vars:?}");
        for k in 0..want {
            assert!(
                vars.contains(&(format!("hugeVar{k}"), (k * 7).to_string())),
                "node{major}: hugeVar{k} missing in {vars:?}"
            );
        }
    }
}
