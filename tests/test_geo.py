"""Coordinates: what people type, how precise it was, and distances and bearings on the map."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshchat.geo.describe import accuracy_text, age_text, ago_text, distance_text, relation_text
from meshchat.geo.location import coordinates_text, location_of
from meshchat.geo.measure import bearing_deg, compass_point, distance_m, moved, offset_m
from meshchat.geo.parse import CoordinateError, parse_position
from meshchat.geo.point import Point

UTRECHT = Point(520907000, 51214000)


@pytest.mark.parametrize(
    "text",
    [
        "52.0907 5.1214",
        "52.0907,5.1214",
        "52.0907, 5.1214",
        "52.0907N 5.1214E",
        "52.0907° N; 5.1214° E",
        " 52.0907  5.1214 ",
    ],
)
def test_decimal_degrees_in_the_forms_people_type(text: str) -> None:
    parsed = parse_position(text)
    assert parsed.point == UTRECHT and parsed.form == "decimal"
    assert parsed.accuracy_m == 6  # four decimals: half of 0.0001 degree is 5.6 m


def test_hemisphere_letters_and_signs() -> None:
    assert parse_position("33.8688 S 151.2093 E").point == Point(-338688000, 1512093000)
    assert parse_position("-33.8688 -70.5").point == Point(-338688000, -705000000)
    assert parse_position("40.7 N 74.0 W").point == Point(407000000, -740000000)
    with pytest.raises(CoordinateError, match="sign or N/S"):
        parse_position("-33.8 S 151.2 E")


def test_the_precision_typed_becomes_the_accuracy() -> None:
    assert parse_position("52 5").accuracy_m == 55_660  # whole degrees: the place may be 55 km away
    assert parse_position("52.09 5.12").accuracy_m == 557
    assert parse_position("52.0907123 5.1214123").accuracy_m == 1


@pytest.mark.parametrize(
    ("text", "accuracy"),
    [
        ("31U FT 12345 67890", 1),
        ("31UFT1234567890", 1),
        ("31u ft 1234 6789", 8),
        ("31UFT123678", 71),
        ("31UFT", 70_711),
    ],
)
def test_mgrs_references_read_as_field_teams_write_them(text: str, accuracy: int) -> None:
    parsed = parse_position(text)
    assert parsed.form == "mgrs" and parsed.accuracy_m == accuracy
    assert parsed.point.mgrs(digits=5)[:9] == "31U FT 12" or accuracy > 1000


def test_mgrs_round_trips_at_one_metre() -> None:
    point = parse_position("31U FT 12345 67890").point
    assert point.mgrs() == "31U FT 12345 67890"
    assert UTRECHT.mgrs() == "31U FT 45332 73249" and UTRECHT.mgrs(digits=3) == "31U FT 453 732"


def test_a_coarse_mgrs_square_means_its_centre() -> None:
    """``31U FT 1 6`` is a 10 km square: the point is its centre, so the error is at most half a diagonal."""
    corner = parse_position("31U FT 10000 60000").point
    centre = parse_position("31U FT 1 6").point
    assert distance_m(corner, centre) == pytest.approx(5000 * math.sqrt(2), rel=0.01)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no position given"),
        ("hello", "is not a position"),
        ("91 5", "latitude 91 is outside"),
        ("52 181", "longitude 181 is outside"),
        ("31UFT123", "as many easting as northing digits"),
        ("61UFT1234", "zone 61 does not exist"),
        ("32UFT1234567890", "not a valid MGRS reference"),
        ("geo:52.1,5.1;u=lots", "not a number of metres"),
        ("5" * 200, "at most 100 characters"),
    ],
)
def test_what_is_not_a_position_is_refused_with_what_to_give(text: str, message: str) -> None:
    with pytest.raises(CoordinateError, match=message):
        parse_position(text)


def test_geo_uris_with_their_uncertainty() -> None:
    parsed = parse_position("geo:52.0907,5.1214;u=35")
    assert parsed.point == UTRECHT and parsed.accuracy_m == 35 and parsed.form == "geo"
    assert UTRECHT.geo_uri() == "geo:52.0907,5.1214"
    assert Point(-338688001, 0).geo_uri() == "geo:-33.8688001,0"
    assert parse_position(UTRECHT.geo_uri()).point == UTRECHT


def test_points_check_their_ranges() -> None:
    with pytest.raises(ValueError, match="latitude"):
        Point(900_000_001, 0)
    with pytest.raises(ValueError, match="longitude"):
        Point(0, -1_800_000_001)


@given(lat=st.integers(-900_000_000, 900_000_000), lon=st.integers(-1_800_000_000, 1_800_000_000))
def test_decimal_text_round_trips_exactly_at_seven_digits(lat: int, lon: int) -> None:
    point = Point(lat, lon)
    assert parse_position(point.decimal(digits=7)).point == point
    assert parse_position(point.geo_uri()).point == point


def test_distances_and_bearings() -> None:
    one_degree = 2 * math.pi * 6_371_008.8 / 360
    assert distance_m(Point(0, 0), Point(10_000_000, 0)) == pytest.approx(one_degree)
    assert distance_m(UTRECHT, UTRECHT) == 0
    assert bearing_deg(Point(0, 0), Point(10_000_000, 0)) == pytest.approx(0)
    assert bearing_deg(Point(0, 0), Point(0, 10_000_000)) == pytest.approx(90)
    assert bearing_deg(Point(0, 0), Point(-10_000_000, 0)) == pytest.approx(180)
    assert bearing_deg(Point(0, 0), Point(0, -10_000_000)) == pytest.approx(270)
    # Utrecht to Amsterdam (Dam square): 35 km, a little west of north.
    dam = Point(523731000, 48926000)
    assert distance_m(UTRECHT, dam) == pytest.approx(35_300, rel=0.01)
    assert compass_point(bearing_deg(UTRECHT, dam)) == "NNW"
    assert [compass_point(b) for b in (0, 11, 12, 45, 180, 348.8, 359)] == ["N", "N", "NNE", "NE", "S", "N", "N"]


def test_the_flat_map_round_trips_and_crosses_the_antimeridian() -> None:
    east, north = offset_m(UTRECHT, moved(UTRECHT, 1200.0, -800.0))
    assert east == pytest.approx(1200, abs=0.5) and north == pytest.approx(-800, abs=0.5)
    fiji_west, fiji_east = Point(-180_000_000, 1_799_000_000), Point(-180_000_000, -1_799_000_000)
    east, _ = offset_m(fiji_west, fiji_east)
    assert east == pytest.approx(distance_m(fiji_west, fiji_east), rel=0.001) and east > 0


def test_words_for_places_and_times() -> None:
    assert [distance_text(m) for m in (0.4, 40, 999.4, 1234, 12_345, 1_234_567)] == [
        "0 m",
        "40 m",
        "999 m",
        "1.2 km",
        "12 km",
        "1,235 km",
    ]
    assert relation_text(UTRECHT, UTRECHT) == "here"
    assert relation_text(Point(0, 0), Point(0, 90_000)) == "1.0 km E (90°)"
    assert accuracy_text(0) == "±<1 m" and accuracy_text(12) == "±12 m"
    assert [age_text(s * 1000) for s in (3, 40, 720, 3 * 3600 + 300, 7200, 50 * 3600, 48 * 3600)] == [
        "now",
        "40 s",
        "12 min",
        "3 h 5 min",
        "2 h",
        "2 d 2 h",
        "2 d",
    ]
    assert ago_text(0) == "just now" and ago_text(-5000) == "just now" and ago_text(90_000) == "1 min ago"


def test_a_location_is_words_and_coordinates_read_by_one_rule() -> None:
    here = Point(520907000, 51214000)
    assert location_of("Oak farm", "", None) == {"text": "Oak farm"}
    assert location_of("  ", None, None) is None
    barn = parse_position("31U FT 4533 7325").point
    assert location_of(None, "31U FT 4533 7325", None) == {"lat_e7": barn.lat_e7, "lon_e7": barn.lon_e7}
    assert location_of("depot", " HERE ", here) == {"text": "depot", "lat_e7": 520907000, "lon_e7": 51214000}
    with pytest.raises(CoordinateError, match="report it first"):
        location_of("depot", "here", None)
    with pytest.raises(CoordinateError, match="7 digits"):
        location_of("depot", "31U FT 4533 732", here)
    shown = coordinates_text({"text": "barn", "lat_e7": barn.lat_e7, "lon_e7": barn.lon_e7})
    assert parse_position(shown).point == barn  # a form shows them so that they read back exactly
    assert coordinates_text({"text": "barn"}) == coordinates_text("barn") == coordinates_text(None) == ""
