use super::*;
use crate::FieldValue::{self, Boolean, Float, Integer, String as Str, Unsigned};

fn one(line: &str) -> Result<Point, ParseError> {
    let (mut pts, mut errs) = parse_lines(line.as_bytes(), Precision::Nanosecond, 42);
    match (pts.len(), errs.len()) {
        (1, 0) => Ok(pts.remove(0)),
        (0, 1) => Err(errs.remove(0).error),
        other => panic!("{line:?}: {other:?} {pts:?} {errs:?}"),
    }
}

fn err(line: &str) -> String {
    match one(line) {
        Ok(p) => panic!("{line:?} parsed: {p:?}"),
        Err(e) => e.to_string(),
    }
}

fn tags(t: &[(&str, &str)]) -> Vec<(String, String)> {
    t.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn fields(f: &[(&str, FieldValue)]) -> Vec<(String, FieldValue)> {
    f.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

#[test]
fn basic_point() {
    let p = one("cpu,host=a,region=west value=1.5,n=2i,u=3u,b=t,s=\"x\" 1000").unwrap();
    assert_eq!(p.measurement, "cpu");
    assert_eq!(p.tags, tags(&[("host", "a"), ("region", "west")]));
    assert_eq!(
        p.fields,
        fields(&[
            ("value", Float(1.5)),
            ("n", Integer(2)),
            ("u", Unsigned(3)),
            ("b", Boolean(true)),
            ("s", Str("x".into()))
        ])
    );
    assert_eq!(p.time, 1000);
}

#[test]
fn error_messages() {
    let cases: &[(&str, &str)] = &[
        // measurement / key
        (",a=b v=1", "missing measurement"),
        ("cpu", "missing fields"),
        ("=", "missing fields"),
        ("cpu,host=serverA,region=us-west", "missing fields"),
        ("cpu,host==", "missing fields"),
        ("cpu ", "invalid field format"),
        ("cpu, value=1", "missing tag key"),
        ("cpu,", "missing tag key"),
        ("cpu,,,", "missing tag key"),
        ("cpu,host=serverA,=us-east value=1i", "missing tag key"),
        ("cpu,host=serverAa\\,,=us-east value=1i", "missing tag key"),
        ("cpu, =serverA value=1i", "missing tag key"),
        ("cpu,host", "missing tag value"),
        ("cpu,host,", "missing tag value"),
        ("cpu,host=", "missing tag value"),
        ("cpu,host value=1i", "missing tag value"),
        ("cpu,host=serverA,region value=1i", "missing tag value"),
        ("cpu,host=serverA,region= value=1i", "missing tag value"),
        ("cpu,host=serverA,region=,zone=us-west value=1i", "missing tag value"),
        ("cpu,host=f=o,", "invalid tag format"),
        ("cpu,host=f\\==o,", "invalid tag format"),
        ("cpu,a=1,a=2 v=1", "duplicate tags"),
        ("cpu,b=1,a=2,b=3 v=1", "duplicate tags"),
        // fields
        ("cpu,host=serverA,region=us-west =", "missing field key"),
        ("cpu,host=serverA,region=us-west =123i", "missing field key"),
        ("cpu,host=serverA,region=us-west value=123i,=456i", "missing field key"),
        ("cpu,host=serverA,region=us-west value=", "missing field value"),
        ("cpu,host=serverA,region=us-west value= 1000000000i", "missing field value"),
        ("cpu,host=serverA,region=us-west value=,value2=1i", "missing field value"),
        ("cpu,host=server01,region=us-west 1434055562000000000i", "invalid field format"),
        ("cpu,host=server01,region=us-west value=1i,b", "invalid field format"),
        ("m f=\"blah\"=123,r 1531703600000000000", "invalid value: field-key=r"),
        ("cpu,host=serverA value=\"test", "unbalanced quotes"),
        ("cpu,host=serverA value=\"test\"\"", "unbalanced quotes"),
        ("cpu v=- ", "invalid number"),
        ("cpu v=-", "invalid number"),
        ("cpu v=-i ", "invalid number"),
        ("cpu v=-. ", "invalid number"),
        ("cpu v=. ", "invalid number"),
        ("cpu v=1.0i ", "invalid number"),
        ("cpu v=1ii ", "invalid number"),
        ("cpu v=1a ", "invalid number"),
        ("cpu v=-e-e-e ", "invalid float"),
        ("cpu v=42+3 ", "invalid number"),
        ("cpu v=-123u", "invalid number"),
        ("cpu v=1.1.1", "invalid number"),
        ("cpu v=9ie10", "invalid number"),
        ("cpu v=9e10i", "invalid number"),
        ("cpu v=NaN", "invalid number"),
        ("cpu v=nan", "invalid number"),
        ("cpu v=n", "invalid number"),
        ("cpu v=-Inf", "invalid number"),
        ("cpu v=Inf", "invalid boolean"),
        ("cpu v=1e", "invalid float"),
        ("cpu v=1e400", "invalid float"),
        ("cpu v=.e5", "invalid float"),
        ("cpu v=1\r", "invalid number"),
        (
            "cpu,host=serverA,region=us-west value=9223372036854775808i",
            "unable to parse integer 9223372036854775808: strconv.ParseInt: parsing \"9223372036854775808\": value out of range",
        ),
        (
            "cpu v=-9223372036854775809i",
            "unable to parse integer -9223372036854775809: strconv.ParseInt: parsing \"-9223372036854775809\": value out of range",
        ),
        (
            "cpu v=18446744073709551616u",
            "unable to parse unsigned 18446744073709551616: strconv.ParseUint: parsing \"18446744073709551616\": value out of range",
        ),
        ("cpu v=tru", "invalid boolean"),
        ("cpu v=truee", "invalid boolean"),
        ("cpu v=TRue", "invalid boolean"),
        ("cpu v=fals", "invalid boolean"),
        ("cpu v=x", "invalid boolean"),
        ("cpu v=t\"", "invalid boolean"),
        // timestamps
        ("cpu v=1 12a", "bad timestamp"),
        ("a v=1 0\\", "bad timestamp"),
        ("cpu v=1 --1", "bad timestamp"),
        ("cpu v=1 1.5", "bad timestamp"),
        ("cpu v=1 10\r", "bad timestamp"),
        ("cpu v=1 -", "strconv.ParseInt: parsing \"-\": invalid syntax"),
        (
            "cpu v=1 99999999999999999999",
            "strconv.ParseInt: parsing \"99999999999999999999\": value out of range",
        ),
        (
            "cpu v=1 9223372036854775807",
            "time outside range -9223372036854775806 - 9223372036854775806",
        ),
        (
            "cpu v=1 -9223372036854775807",
            "time outside range -9223372036854775806 - 9223372036854775806",
        ),
        ("cpu v=1 1 2", "point is invalid"),
        ("cpu v=1 1\t", "bad timestamp"),
        ("cpu v=1 1 \t", "point is invalid"),
    ];
    let mut failed = Vec::new();
    for (line, want) in cases {
        let got = match one(line) {
            Ok(p) => format!("parsed: {p:?}"),
            Err(e) => e.to_string(),
        };
        if got != *want {
            failed.push(format!("{line:?}: got {got:?}, want {want:?}"));
        }
    }
    assert!(failed.is_empty(), "\n{}", failed.join("\n"));
}

#[test]
fn batch_errors_and_good_lines() {
    let body = b"cpu v=1 1\nbad\n# comment\n\n   \t\ncpu v=2 2\n  cpu,a=1,a=2 v=1\nmem free=3i 3";
    let (pts, errs) = parse_lines(body, Precision::Nanosecond, 0);
    assert_eq!(pts.len(), 3);
    assert_eq!(errs.len(), 2);
    assert_eq!(errs[0].line, 2);
    assert_eq!(errs[1].line, 7);
    assert_eq!(
        join_errors(&errs),
        "unable to parse 'bad': missing fields\nunable to parse 'cpu,a=1,a=2 v=1': duplicate tags"
    );
}

#[test]
fn crlf_is_not_special() {
    let (pts, errs) = parse_lines(b"cpu v=1 1\r\ncpu v=2\r\n", Precision::Nanosecond, 0);
    assert!(pts.is_empty());
    assert_eq!(errs[0].to_string(), "unable to parse 'cpu v=1 1\r': bad timestamp");
    assert_eq!(errs[1].to_string(), "unable to parse 'cpu v=2\r': invalid number");
    // A CR-only line is a line with a one-byte measurement and no fields.
    let (_, errs) = parse_lines(b"cpu v=1 1\n\r\n", Precision::Nanosecond, 0);
    assert_eq!(errs[0].to_string(), "unable to parse '\r': missing fields");
}

#[test]
fn unsigned_can_be_turned_off() {
    let mut opts = ParseOptions::new(Precision::Nanosecond, 0);
    opts.allow_unsigned = false;
    let (pts, errs) = parse_lines_with(b"cpu v=1u", &opts);
    assert!(pts.is_empty());
    assert_eq!(errs[0].error, ParseError::InvalidNumber);
}

#[test]
fn escaping() {
    let p = one(r"foo\,bar value=1i").unwrap();
    assert_eq!(p.measurement, "foo,bar");
    let p = one(r"cpu\ load,region=east value=1.0").unwrap();
    assert_eq!(p.measurement, "cpu load");
    // `\=` does not end a measurement, but the name InfluxDB indexes has it
    // unescaped (`SHOW MEASUREMENTS` on a real influxd 1.6 shows `cpu=load`);
    // the raw series key keeps the backslash.
    let p = one(r"cpu\=load,region=east value=1.0").unwrap();
    assert_eq!(p.measurement, "cpu=load");
    assert_eq!(p.series_key(), "cpu=load,region=east");
    let raw = Parser::new()
        .parse_raw(
            br"cpu\=load,region=east value=1.0",
            &ParseOptions::new(Precision::Nanosecond, 0),
        )
        .unwrap();
    assert_eq!(raw.series_key(), br"cpu\=load,region=east");
    assert_eq!(one(r#"q\"m v=1"#).unwrap().measurement, "q\"m");
    // Other backslashes stay.
    let p = one(r"c\pu,t\ag=v\al v=1").unwrap();
    assert_eq!(p.measurement, r"c\pu");
    assert_eq!(p.tags, tags(&[(r"t\ag", r"v\al")]));
    // Tag keys and values.
    let p = one(r"cpu,ho\ st=web\ 01,rack=rack\,row\=3,a\=b=c value=1").unwrap();
    assert_eq!(p.tags, tags(&[("a=b", "c"), ("ho st", "web 01"), ("rack", "rack,row=3")]));
    // Field keys, including `\"`.
    let p = one(r#"cpu read\ only=1,a\,b=2,c\=d=3,e\"f=4"#).unwrap();
    let keys: Vec<&str> = p.fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["read only", "a,b", "c=d", "e\"f"]);
    // Strings: `\"` and `\\`; other backslashes are literal.
    let p = one(r#"cpu s="a\"b\\c\nd\,e",t="",u="x y=z, w" 1"#).unwrap();
    assert_eq!(p.fields[0].1, Str(r#"a"b\c\nd\,e"#.into()));
    assert_eq!(p.fields[1].1, Str(String::new()));
    assert_eq!(p.fields[2].1, Str("x y=z, w".into()));
    let p = one(r#"cpu value="test\\\"" 1000000000"#).unwrap();
    assert_eq!(p.fields[0].1, Str(r#"test\""#.into()));
    // An escaped backslash still escapes what follows (InfluxDB's rule).
    let p = one(r"cpu,t=a\\,u v=1").unwrap();
    assert_eq!(p.tags, tags(&[("t", r"a\,u")]));
    assert_eq!(err(r"cpu,t=a\\,u=b v=1"), "invalid tag format");
    // A tag value may start with `=`.
    let p = one("cpu,a==b v=1").unwrap();
    assert_eq!(p.tags, tags(&[("a", "=b")]));
    // Quotes are literal in measurements and tags.
    let p = one("baz,mytag=\"a x=1 1441103862125").unwrap();
    assert_eq!(p.tags, tags(&[("mytag", "\"a")]));
}

#[test]
fn tags_sorted_as_influxdb() {
    let p = one("cpu,zone=z,host=h,az=a v=1").unwrap();
    assert_eq!(p.tags, tags(&[("az", "a"), ("host", "h"), ("zone", "z")]));
    // Sorted by escaped bytes: `a\ b` (0x5C) sorts after `a!` (0x21).
    let mut parser = Parser::new();
    let opts = ParseOptions::new(Precision::Nanosecond, 0);
    let raw = parser.parse_raw(br"cpu,a\ b=1,a!=2 v=1", &opts).unwrap();
    assert_eq!(raw.series_key(), br"cpu,a!=2,a\ b=1");
    let p = raw.to_point().unwrap();
    assert_eq!(p.tags, tags(&[("a!", "2"), ("a b", "1")]));
    assert_eq!(p.series_key().as_bytes(), raw.series_key());
}

#[test]
fn values() {
    let cases: &[(&str, FieldValue)] = &[
        ("1", Float(1.0)),
        ("1.5", Float(1.5)),
        ("-1e-9", Float(-1e-9)),
        ("1.5e+10", Float(1.5e10)),
        ("1E5", Float(1e5)),
        (".5", Float(0.5)),
        ("-.5", Float(-0.5)),
        ("1.", Float(1.0)),
        ("1.e5", Float(1e5)),
        ("-0", Float(-0.0)),
        ("1e-400", Float(0.0)),
        ("1i", Integer(1)),
        ("-1i", Integer(-1)),
        ("9223372036854775807i", Integer(i64::MAX)),
        ("-9223372036854775808i", Integer(i64::MIN)),
        ("0009223372036854775807i", Integer(i64::MAX)),
        ("0u", Unsigned(0)),
        ("18446744073709551615u", Unsigned(u64::MAX)),
        ("00018446744073709551615u", Unsigned(u64::MAX)),
        ("t", Boolean(true)),
        ("T", Boolean(true)),
        ("true", Boolean(true)),
        ("True", Boolean(true)),
        ("TRUE", Boolean(true)),
        ("f", Boolean(false)),
        ("F", Boolean(false)),
        ("false", Boolean(false)),
        ("False", Boolean(false)),
        ("FALSE", Boolean(false)),
        ("\"\"", Str(String::new())),
        ("\"héllo ✓\"", Str("héllo ✓".into())),
    ];
    for (text, want) in cases {
        let line = format!("m v={text}");
        let p = one(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(&p.fields[0].1, want, "{line}");
        if let (Float(a), Float(b)) = (&p.fields[0].1, want) {
            assert_eq!(a.is_sign_negative(), b.is_sign_negative(), "{line}");
        }
    }
    // 1.7976931348623157e308 written out (309 digits) parses; one more digit fails.
    let max = format!("{:.0}", f64::MAX);
    assert_eq!(one(&format!("m v={max}")).unwrap().fields[0].1, Float(f64::MAX));
    assert_eq!(err(&format!("m v=1{max}")), "invalid float");
    assert_eq!(one(&format!("m v=-0000{max}")).unwrap().fields[0].1, Float(-f64::MAX));
}

#[test]
fn duplicate_fields_are_kept_in_order() {
    let p = one("m a=1,a=2i 5").unwrap();
    assert_eq!(p.fields, fields(&[("a", Float(1.0)), ("a", Integer(2))]));
}

#[test]
fn whitespace() {
    for line in [
        "cpu    value=1.0 1257894000000000000",
        "cpu value=1.0     1257894000000000000",
        "cpu      value=1.0     1257894000000000000",
        "cpu value=1.0 1257894000000000000   ",
        "cpu value=1.0 1257894000000000000\n",
        "cpu   value=1.0 1257894000000000000\n",
        "  \t cpu value=1.0 1257894000000000000",
        "cpu value=1.0 \t1257894000000000000",
    ] {
        let p = one(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        assert_eq!(p.time, 1257894000000000000, "{line:?}");
    }
    // Trailing blanks without a timestamp: the default time.
    assert_eq!(one("cpu value=1 ").unwrap().time, 42);
    let (pts, errs) = parse_lines(b"", Precision::Nanosecond, 0);
    assert!(pts.is_empty() && errs.is_empty());
    let (pts, errs) = parse_lines(b" \n\t\n\0\n", Precision::Nanosecond, 0);
    assert!(pts.is_empty() && errs.is_empty());
}

#[test]
fn newlines_inside_strings_and_after_backslashes() {
    let body = b"m s=\"a\nb\" 1\nm,t=x\\\ny v=1 2\nm v=3 3";
    let (pts, errs) = parse_lines(body, Precision::Nanosecond, 0);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(pts.len(), 3);
    assert_eq!(pts[0].fields[0].1, Str("a\nb".into()));
    assert_eq!(pts[1].tags, tags(&[("t", "x\\\ny")]));
    assert_eq!(pts[2].time, 3);
    // Line numbers count the physical lines.
    let (_, errs) = parse_lines(b"m s=\"a\nb\" 1\nbad", Precision::Nanosecond, 0);
    assert_eq!(errs[0].line, 3);
    // A comment whose text looks like an open string swallows the lines up
    // to the next quote, as in InfluxDB.
    let (pts, errs) = parse_lines(b"# a x=\"\nm v=1 1\nm v=2 2", Precision::Nanosecond, 0);
    assert!(errs.is_empty() && pts.is_empty());
    let (pts, errs) = parse_lines(b"# a x=\"\nm v=1 1\" 7\nm v=2 2", Precision::Nanosecond, 0);
    assert!(errs.is_empty());
    assert_eq!(pts.len(), 1);
    assert_eq!(pts[0].time, 2);
}

#[test]
fn precision() {
    let line = b"cpu,host=serverA,region=us-east value=1.0";
    let now = 946730096789012345;
    for (p, ts, want) in [
        ("", "946730096789012345", 946730096789012345),
        ("n", "946730096789012345", 946730096789012345),
        ("ns", "946730096789012345", 946730096789012345),
        ("u", "946730096789012", 946730096789012000),
        ("ms", "946730096789", 946730096789000000),
        ("s", "946730096", 946730096000000000),
        ("m", "15778834", 946730040000000000),
        ("h", "262980", 946728000000000000),
    ] {
        let prec = Precision::parse(p).unwrap();
        let with_ts = format!("{} {ts}", std::str::from_utf8(line).unwrap());
        let (pts, _) = parse_lines(with_ts.as_bytes(), prec, 0);
        assert_eq!(pts[0].time, want, "{p}");
        // Default time is truncated to the precision.
        let (pts, _) = parse_lines(line, prec, now);
        assert_eq!(pts[0].time, want, "default {p}");
    }
    assert_eq!(Precision::Second.truncate(-1), -1_000_000_000);
    assert_eq!(
        Precision::parse("us").unwrap_err().to_string(),
        "invalid precision \"us\" (use n, u, ms, s, m or h)"
    );
    assert_eq!(Precision::parse_lenient("µ"), Precision::Nanosecond);
    assert_eq!(Precision::parse_v2("us").unwrap(), Precision::Microsecond);
    assert_eq!(
        Precision::parse_v2("u").unwrap_err().to_string(),
        "invalid precision \"u\" (use ns, us, ms or s)"
    );
    // Overflow after the multiplication.
    let (_, errs) = parse_lines(b"m v=1 9223372036854775", Precision::Millisecond, 0);
    assert_eq!(errs[0].error, ParseError::TimeOutOfRange);
    let (pts, _) = parse_lines(b"m v=1 9223372036854775806", Precision::Nanosecond, 0);
    assert_eq!(pts[0].time, MAX_NANO_TIME);
    let (pts, _) = parse_lines(b"m v=1 -9223372036854775806", Precision::Nanosecond, 0);
    assert_eq!(pts[0].time, MIN_NANO_TIME);
    let (pts, _) = parse_lines(b"m v=1 -1", Precision::Nanosecond, 0);
    assert_eq!(pts[0].time, -1);
}

#[test]
fn max_key_length() {
    let long = "a".repeat(65536);
    assert_eq!(err(&format!("{long} v=1")), "max key length exceeded: 65536 > 65535");
    let name = "a".repeat(65530);
    assert_eq!(err(&format!("{name} vv=1")), "max key length exceeded: 65536 > 65535");
    assert!(one(&format!("{name} v=1")).is_ok());
}

#[test]
fn float_formatting_matches_go() {
    for (v, want) in [
        (0.0, "0"),
        (-0.0, "-0"),
        (1.0, "1"),
        (1e-9, "1e-09"),
        (1.5e10, "1.5e+10"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (123456.0, "123456"),
        (1234567.0, "1.234567e+06"),
        (1e6, "1e+06"),
        (100000.0, "100000"),
        (54.425, "54.425"),
        (-1.5, "-1.5"),
        (1e100, "1e+100"),
        (f64::MAX, "1.7976931348623157e+308"),
        (5e-324, "5e-324"),
        (0.1 + 0.2, "0.30000000000000004"),
    ] {
        let mut s = String::new();
        append_float(v, &mut s);
        assert_eq!(s, want, "{v:?}");
    }
}

#[test]
fn writer() {
    let p = Point {
        measurement: "http requests,x".into(),
        tags: tags(&[("a b", "c,d=e"), ("empty", ""), ("z", r"back\slash")]),
        fields: fields(&[
            ("read only", Float(1e-9)),
            ("i", Integer(-5)),
            ("u", Unsigned(u64::MAX)),
            ("b", Boolean(false)),
            ("s\"q", Str("say \"hi\" \\ ok\nnext".into())),
        ]),
        time: -5,
    };
    let mut s = String::new();
    write_point(&p, &mut s);
    assert_eq!(
        s,
        r#"http\ requests\,x,a\ b=c\,d\=e,z=back\slash read\ only=1e-09,i=-5i,u=18446744073709551615u,b=false,s\"q="say \"hi\" \\ ok"#
            .to_string()
            + "\nnext\" -5"
    );
    let (pts, errs) = parse_lines(s.as_bytes(), Precision::Nanosecond, 0);
    assert!(errs.is_empty(), "{errs:?}");
    let mut want = p.clone();
    want.tags.retain(|(_, v)| !v.is_empty());
    assert_eq!(pts, vec![want]);
}

#[test]
fn never_panics_on_odd_inputs() {
    let odd: &[&[u8]] = &[
        b"\\",
        b"\\\\",
        b"a\\",
        b"a \\",
        b"a b\\",
        b"a b=\\",
        b"a b=\"\\",
        b"a b=\"\\\"",
        b"a,\\",
        b"a,b\\=c",
        b"a,b=\\",
        b"a b=1 \\",
        b"a b=-",
        b"a b=-\\",
        b"a =",
        b" =",
        b"\\ =",
        b"a\\ =1",
        b"a b\\=1",
        b"a b\\\\=1",
        b"a b\\\\=1,c=2",
        b"a b=\"x\"y,c=1",
        b"a b=1,\\,=2",
        b"a b=\"x\"\\,=2",
        b"a b=\"",
        b"a b=\"\"\"",
        b"\xff\xfe b=1",
        b"a b=\"\xff\"",
        b"a,\xff=\xfe b=1",
        b"a b=1 -",
        b"a b=1 - ",
        b"\0",
        b"a\0b=1",
        b"#",
        b"\n\n\n",
        b"a b=t,c=T,d=true\\",
    ];
    for input in odd {
        let _ = parse_lines(input, Precision::Nanosecond, 0);
        let _ = parse_lines(input, Precision::Hour, i64::MIN);
        let _ = parse_lines(input, Precision::Hour, i64::MAX);
    }
    // Walking the fields like InfluxDB: an escaped `=` before a backslash
    // hides the key/value split.
    assert_eq!(err(r"a b\\=1"), r"invalid value: field-key=b\\=1");
    let p = one(r"a b\\=1,c=2").unwrap();
    assert_eq!(p.fields, fields(&[(r"b\=1,c", Float(2.0))]));
    // Text after a closing quote stays in the string, as in InfluxDB.
    let p = one("a b=\"x\"y,c=1").unwrap();
    assert_eq!(p.fields[0].1, Str("x\"".into()));
}
