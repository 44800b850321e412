import pytest

from rules.sources.signatures import InvalidSignaturesError, parse_signatures

SHA = "a" * 64


def test_parses_the_azure_linux_format() -> None:
    assert parse_signatures("x.signatures.json", b'{"Signatures": {"x.tar.gz": "%s"}}' % SHA.upper().encode()) == {
        "x.tar.gz": SHA
    }
    # Azure Linux's toolkit matches the key without regard to case; some of its files say so.
    assert parse_signatures("x.signatures.json", b'{"signatures": {"x.tar.gz": "%s"}}' % SHA.encode()) == {
        "x.tar.gz": SHA
    }


@pytest.mark.parametrize(
    "content, complaint",
    [
        (b"{", "is not valid JSON"),
        (b'{"Signature": {}}', 'has no "Signatures" object'),
        (b'{"Signatures": {"x.tar.gz": "abc"}}', "the signature of 'x.tar.gz' is not a sha256"),
    ],
)
def test_malformed_signatures_say_what_is_wrong(content: bytes, complaint: str) -> None:
    with pytest.raises(InvalidSignaturesError) as e:
        parse_signatures("specs/x/x.signatures.json", content)
    assert str(e.value).startswith("specs/x/x.signatures.json")
    assert complaint in str(e.value)
