"""Drives a testbed data node with the official Python `influxdb` client
(InfluxDB 1.x API): create a database, write points (JSON and line protocol,
several precisions), query them back, check errors. Exits non-zero on any
mismatch. Usage: client_check.py HOST PORT"""
import sys

from influxdb import InfluxDBClient
from influxdb.exceptions import InfluxDBClientError

host, port = sys.argv[1], int(sys.argv[2])
c = InfluxDBClient(host=host, port=port, database="pyclient")

assert c.ping(), "ping returned no version"
c.create_database("pyclient")
assert {"name": "pyclient"} in c.get_list_database(), c.get_list_database()

points = [
    {
        "measurement": "cpu load",
        "tags": {"host": "server 01", "region": "us,west"},
        "time": 1_700_000_000_000_000_000 + i * 1_000_000_000,
        "fields": {"value": 0.5 + i, "count": i, "ok": i % 2 == 0, "msg": f'say "{i}"'},
    }
    for i in range(100)
]
assert c.write_points(points, time_precision="n", batch_size=40)
assert c.write(["mem,host=a used=42i 1700000000"], params={"db": "pyclient", "precision": "s"}, protocol="line")

rs = c.query('SELECT count("value") FROM "cpu load"')
got = list(rs.get_points())
assert got[0]["count"] == 100, got

rs = c.query('SELECT "value", "msg" FROM "cpu load" WHERE "host" = \'server 01\' ORDER BY time DESC LIMIT 2')
rows = list(rs.get_points())
assert len(rows) == 2 and rows[0]["value"] == 99.5 and rows[0]["msg"] == 'say "99"', rows

rs = c.query("SELECT used FROM mem", epoch="s")
assert list(rs.get_points()) == [{"time": 1700000000, "used": 42}], list(rs.get_points())

rs = c.query('SELECT mean("value") FROM "cpu load" GROUP BY "region"')
assert list(rs.get_points(tags={"region": "us,west"}))[0]["mean"] == 50.0

try:
    c.query("SELECT FROM nothing")
    raise SystemExit("a bad query did not fail")
except InfluxDBClientError as e:
    assert "error parsing query" in str(e), e

try:
    c.write_points([{"measurement": "x", "fields": {"v": 1}}], database="nosuchdb")
    raise SystemExit("a write to a missing database did not fail")
except InfluxDBClientError as e:
    assert e.code == 404 and 'database not found: \\"nosuchdb\\"' in str(e) or "database not found" in str(e), e

c.drop_database("pyclient")
assert {"name": "pyclient"} not in c.get_list_database()
print("python influxdb client: ok")
