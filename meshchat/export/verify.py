"""``verify``: check an HQ export with nothing but the export itself.

What is checked, and why it is enough (see docs/hq.md):

1. Every entry of ``log.msgpack`` decodes strictly, belongs to the team, and carries a valid signature by its
   author: every signature is checked, so a bad one is named, not just noticed.
2. Every author's chain is whole: seqs 1..head all present, in order, each ``prev`` the id of the entry
   before, clocks increasing. Dropping, reordering or replacing an entry breaks this at a named place.
3. Completeness: every id that any signed ``heads`` entry names is present. A chain proves there is no gap,
   not that the tail is there; heads entries written by other members are the witnesses for the tail.
4. Membership, evaluated from the log as every node evaluates it: authors who never were members are errors;
   entries written after an author's removal, and forks (two signed entries for one seq, from
   ``forks.msgpack``), are shown as warnings: the bundle is intact, but HQ must look.
5. The manifest: its signature over its exact bytes, the digest of every file it lists, and that what it
   states (authors, heads, counts, forks, retractions) is what the log says.
6. Who vouches for it: the manifest's signer must be a member of the team in the log, unless HQ pinned that
   key (``Expected.signer``): anyone can drop entries and re-sign an export with a key of their own. HQ can
   also pin the team (``Expected.team``), against a whole team made up under the same name. Members whose
   membership is in the log but none of whose entries are (``missing-author``) are shown.

Bad content never raises: it becomes a :class:`~meshchat.export.problems.Problem` naming file, frame, author,
seq and id where they can be known. Only a directory that is not an export at all raises ``ExportError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

from meshchat.export import manifest
from meshchat.export.attachments import FileList, check_attachments
from meshchat.export.chains import Add, Chain, check_chains, check_forks, identify
from meshchat.export.crosscheck import check_files, compare_manifest, hex_field
from meshchat.export.entries import ENTRIES_FILE, check_entries
from meshchat.export.errors import BundleFormatError, ExportError
from meshchat.export.framing import Frame, StreamHeader, read_entries, read_header
from meshchat.export.pins import Expected, matches
from meshchat.export.problems import RetractionInfo, Severity, VerifyReport
from meshchat.export.progress import Progress
from meshchat.export.signatures import SignatureChecker
from meshchat.export.summary import AuthorHead, ForkRecord, LogSummary, role_label
from meshchat.log.effects import retraction_hides
from meshchat.log.entry import ID_SIZE, ZERO_ID, Entry, EntryError, decode_entry, verify_signature
from meshchat.log.rules import Membership
from meshchat.log.views import post_columns

E = Severity.ERROR
W = Severity.WARNING
I = Severity.INFO  # noqa: E741
# Errors about who signed the export, not about the log: the data files can still be compared with the log.
_WHO_VOUCHES = frozenset({"signer-not-member", "unexpected-signer", "unexpected-team"})


DataCheck = Callable[[Path, Membership, bytes, Add], int]
"""Compares one data file of an export with what its log gives; adds problems; returns lines or rows compared."""


def verify_export(
    path: Path,
    *,
    expected: Expected | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    data_checks: Mapping[str, DataCheck] | None = None,
) -> VerifyReport:
    """Verify the export directory ``path``, against the team and signer HQ pinned in ``expected``. Raises
    :class:`ExportError` only when it is not an export.

    ``entries.jsonl`` is always compared with the log. Data files whose check needs more than the bundle
    (``operation.sqlite`` needs SQLite and the views: ``meshchat.export.operation.check``) are checked when
    ``data_checks`` names them; otherwise only their digest is (an info says so)."""
    checks: dict[str, DataCheck] = {ENTRIES_FILE: check_entries, **(data_checks or {})}
    return _Verifier(path, expected or Expected(), progress or Progress.silent(), workers, checks).run()


class _Verifier:
    def __init__(
        self, path: Path, expected: Expected, progress: Progress, workers: int | None, checks: dict[str, DataCheck]
    ) -> None:
        self.path = path
        self.expected = expected
        self.data_checks = checks
        self.progress = progress
        self.report = VerifyReport(path, expected_team=expected.team, expected_signer=expected.signer)
        self.signature_ok = False
        self.doc: dict[str, Any] | None = None
        self.team: bytes | None = None
        self.summary: LogSummary | None = None
        self.chains: dict[bytes, Chain] = {}
        self.section: bytes | None = None
        self.section_key: tuple[int, bytes] | None = None
        self.signatures = SignatureChecker(workers)
        self.bad_signatures: set[tuple[bytes, int, bytes]] = set()
        self.fork_proofs: list[Entry] = []
        self.confirmed_forks: dict[tuple[bytes, int], set[bytes]] = {}
        self.membership: Membership | None = None
        self.message_ids: set[bytes] = set()
        self.carried = FileList()  # the files the log's messages carry

    def add(self, severity: Severity, code: str, message: str, **entry: Any) -> None:
        self.report.add(severity, code, message, **entry)

    # ---- the steps -----------------------------------------------------------------------------------------

    def run(self) -> VerifyReport:
        if not self.path.is_dir():
            raise ExportError(f"{self.path} is not a directory (verify takes the directory an export wrote)")
        if not (self.path / manifest.LOG_FILE).exists() and not (self.path / manifest.MANIFEST_FILE).exists():
            raise ExportError(
                f"{self.path} is not a meshchat export (no {manifest.MANIFEST_FILE}, no {manifest.LOG_FILE})"
            )
        raw_manifest = self._read_manifest()
        self._read_log()
        self._read_forks()
        self._finish_signatures()
        self.report.signatures_checked = self.signatures.checked
        if self.summary is not None and self.team is not None:
            self.report.authors = len(self.chains)
            check_chains(self.chains.values(), self.add)
            self.confirmed_forks = check_forks(self.fork_proofs, self.chains, self.add)
            self._check_membership()
            self._check_signer()
            self._check_heads()
            self._check_missing_authors()
            self._collect_retractions()
            self._check_data_files()
            if self.doc is not None:
                compare_manifest(self.doc, self._expected_manifest(), self.chains, self.add)
        if raw_manifest is not None and self.doc is not None:
            check_files(self.path, self.doc, self.add)
            if self.summary is not None:
                self.progress.stage("checking the attached files against their ids")
                held, missing = check_attachments(self.path, self.doc, self.carried, self.add)
                self.report.attachments_held, self.report.attachments_missing = held, missing
        self._check_pins()
        self.progress.done()
        order = {E: 0, W: 1, I: 2}
        self.report.problems.sort(key=lambda p: order[p.severity])
        return self.report

    def _read_manifest(self) -> bytes | None:
        """Read and check the signature of the manifest; errors are findings, not exceptions."""
        try:
            data = manifest.read_limited(self.path / manifest.MANIFEST_FILE, manifest.MAX_MANIFEST)
            doc = manifest.parse_json(data, where=manifest.MANIFEST_FILE)
            if not isinstance(doc, dict) or doc.get("format") != manifest.FORMAT:
                raise BundleFormatError(f"{manifest.MANIFEST_FILE} is not a meshchat export manifest")
            if doc.get("v") not in manifest.READABLE_VERSIONS:
                raise BundleFormatError(f"manifest version {doc.get('v')!r} is not supported")
        except BundleFormatError as exc:
            self.add(E, "manifest", str(exc), where=manifest.MANIFEST_FILE)
            return None
        self.doc = doc
        self.team = self.report.team_id = hex_field(doc.get("team"), "id", ID_SIZE)
        if self.team is None:
            self.add(E, "manifest", "the manifest names no valid team id", where=manifest.MANIFEST_FILE)
        exporter = hex_field(doc.get("exported_by"), "key", 32)
        self.report.exported_by = exporter
        exported_at = doc.get("exported_at")
        self.report.exported_at = exported_at if type(exported_at) is int else None
        try:
            sig = manifest.parse_signature(
                manifest.read_limited(self.path / manifest.SIGNATURE_FILE, manifest.MAX_SIGNATURE_FILE)
            )
        except BundleFormatError as exc:
            self.add(E, "manifest-signature", str(exc), where=manifest.SIGNATURE_FILE)
            return data
        if not sig.verifies(data):
            self.add(E, "manifest-signature", "the manifest's signature does not verify", where=manifest.SIGNATURE_FILE)
        elif exporter != sig.key:
            self.add(E, "manifest-signature", "the manifest is signed by another key than the exporter it names")
        else:
            self.report.exported_by = sig.key
            self.signature_ok = True
        return data

    def _read_log(self) -> None:
        where = manifest.LOG_FILE
        try:
            with manifest.open_regular(self.path / where) as f:
                header = read_header(f, where=where)
                self._check_stream_header(header, "chains", where)
                self.summary = LogSummary(self.team) if self.team else None
                if self.summary is None:
                    return
                self.progress.stage("verifying log.msgpack", header.entries)
                for frame in read_entries(f, header, where=where):
                    self._chain_frame(frame, where)
                    self.progress.advance()
        except FileNotFoundError:
            self.add(E, "missing-file", f"{where} is missing: the export holds no log", where=where)
        except BundleFormatError as exc:
            self.add(E, "framing", str(exc), where=where)

    def _check_stream_header(self, header: StreamHeader, part: str, where: str) -> None:
        if self.team is None:
            self.team = self.report.team_id = header.team
            self.add(I, "manifest", f"team taken from the {where} header, since the manifest gives none")
        if header.team != self.team:
            self.add(
                E, "other-team", f"{where} is a log of team {header.team.hex()}, the manifest's is {self.team.hex()}"
            )
        if header.part != part:
            self.add(E, "framing", f"{where} holds part {header.part!r}, expected {part!r}", where=where)
        if self.report.exported_by is not None and header.made_by != self.report.exported_by:
            self.add(E, "manifest", f"{where} was written by another node than the manifest's exporter", where=where)
        if self.report.exported_at is not None and header.made != self.report.exported_at:
            self.add(E, "manifest", f"{where} was written at another time than the manifest says", where=where)

    def _decode(self, frame: Frame, where: str, *, chain: bool = False) -> Entry | None:
        """Decode a frame and check its team; report what is wrong, naming what can be named. A damaged
        chain entry keeps its slot (``chain``), so that its neighbours are not reported again."""
        here = f"{where} frame {frame.index} at byte {frame.offset}"
        try:
            entry = decode_entry(frame.data)
        except EntryError as exc:
            author, seq, eid, prev = identify(frame.data)
            self.add(E, "malformed", f"entry cannot be decoded: {exc}", author=author, seq=seq, id=eid, where=here)
            if chain and author is not None and seq is not None and eid is not None:
                slot = self.chains.setdefault(author, Chain(author))
                if seq not in slot.ids:
                    slot.ids[seq], slot.prevs[seq], slot.frames[seq] = eid, prev, here
                    slot.damaged.add(seq)
            return None
        assert self.team is not None
        if entry.team_id != self.team and not (entry.team_id == ZERO_ID and entry.id == self.team):
            other = "a team genesis" if entry.team_id == ZERO_ID else f"team {entry.team_id.hex()[:16]}"
            self.add(
                E,
                "other-team",
                f"entry of another team ({other}) swapped in",
                author=entry.author,
                seq=entry.seq,
                id=entry.id,
                where=here,
            )
            return None
        return entry

    def _chain_frame(self, frame: Frame, where: str) -> None:
        here = f"{where} frame {frame.index} at byte {frame.offset}"
        entry = self._decode(frame, where, chain=True)
        if entry is None:
            return
        assert self.summary is not None
        author, seq = entry.author, entry.seq
        chain = self.chains.get(author)
        if author != self.section:
            if chain is not None:
                self.add(
                    E,
                    "order",
                    "this author's entries are not all together",
                    author=author,
                    seq=seq,
                    id=entry.id,
                    where=here,
                )
            elif seq == 1:
                key = (entry.clock, author)
                if self.section_key is not None and key <= self.section_key:
                    self.add(
                        E,
                        "order",
                        "authors are out of order (by first clock, then key)",
                        author=author,
                        seq=seq,
                        id=entry.id,
                        where=here,
                    )
                self.section_key = key
            self.section = author
        if chain is None:
            chain = self.chains[author] = Chain(author)
        if seq in chain.ids:
            same = chain.ids[seq] == entry.id
            what = (
                "the same entry appears twice"
                if same
                else "a second, different entry for this seq (forks belong in forks.msgpack)"
            )
            self.add(E, "duplicate", what, author=author, seq=seq, id=entry.id, where=here)
            return
        if seq < chain.last_seq:
            self.add(
                E,
                "order",
                f"out of order: comes after #{chain.last_seq}",
                author=author,
                seq=seq,
                id=entry.id,
                where=here,
            )
        chain.last_seq = max(chain.last_seq, seq)
        chain.ids[seq], chain.prevs[seq], chain.clocks[seq], chain.frames[seq] = entry.id, entry.prev, entry.clock, here
        self.summary.add(entry)
        if entry.kind == "msg.post" and post_columns(entry.decoded_body) is not None:
            self.message_ids.add(entry.id)  # what a retraction can hide
            self.carried.add_post(entry.decoded_body)
        self.report.entries += 1
        self.signatures.add((author, seq, entry.id), author, entry.header, entry.sig)

    def _read_forks(self) -> None:
        where = manifest.FORKS_FILE
        if self.team is None:
            return
        try:
            with manifest.open_regular(self.path / where) as f:
                header = read_header(f, where=where)
                self._check_stream_header(header, "forks", where)
                for frame in read_entries(f, header, where=where):
                    entry = self._decode(frame, where)
                    if entry is None:
                        continue
                    self.report.fork_proofs += 1
                    if verify_signature(entry.author, entry.header, entry.sig):
                        self.fork_proofs.append(entry)
                    else:
                        self.add(
                            E,
                            "bad-signature",
                            "fork proof whose signature does not verify",
                            author=entry.author,
                            seq=entry.seq,
                            id=entry.id,
                            where=f"{where} frame {frame.index}",
                        )
        except FileNotFoundError:
            self.add(E, "missing-file", f"{where} is missing", where=where)
        except BundleFormatError as exc:
            self.add(E, "framing", str(exc), where=where)

    def _finish_signatures(self) -> None:
        self.progress.stage("checking signatures")
        for tag in self.signatures.failures():
            author, seq, eid = cast(tuple[bytes, int, bytes], tag)
            self.bad_signatures.add((author, seq, eid))
            chain = self.chains[author]
            chain.damaged.add(seq)
            self.add(
                E,
                "bad-signature",
                "the author's signature does not verify",
                author=author,
                seq=seq,
                id=eid,
                where=chain.frames[seq],
            )

    # ---- checks over the whole log -------------------------------------------------------------------------

    def _check_membership(self) -> None:
        assert self.summary is not None and self.team is not None
        summary = self.summary
        if summary.genesis is None:
            self.add(E, "genesis", f"the team's genesis entry (team.create with id {self.team.hex()}) is missing")
        forked: dict[bytes, int] = {}
        for author, seq in self.confirmed_forks:
            forked[author] = min(seq, forked.get(author, seq))
        m = self.membership = summary.membership(forked)
        self.report.team_name = summary.team_name()
        self.report.kinds = summary.kinds
        self.report.names = {k: m.display_name(k) for k in self.chains}
        self.report.roles = {k: role_label(m, k) for k in self.chains}
        for chain in self.chains.values():
            first = min(chain.ids)
            if not m.admits(chain.key):
                self.add(
                    E,
                    "unknown-author",
                    f"never a member of the team, yet {len(chain.ids)} entries are in the log",
                    author=chain.key,
                    seq=first,
                    id=chain.ids[first],
                    where=chain.frames[first],
                )
                continue
            cut = m.removed_upto(chain.key)
            member = m.members.get(chain.key)
            if (
                member is not None
                and cut is not None
                and member.removal_asked is not None
                and member.removal_asked < cut
            ):
                by = m.display_name(member.removed_by) if member.removed_by else "?"
                self.add(
                    W,
                    "removal-floor",
                    f"{by} removed this author asking to cut its log at #{member.removal_asked}, below the #{cut} "
                    f"its own heads entries say it held: the cut stays at #{cut}, nothing the remover had is erased",
                    author=chain.key,
                    seq=cut,
                )
            later = [s for s in chain.ids if cut is not None and s > cut]
            if later:
                member = m.members[chain.key]
                by = m.display_name(member.removed_by) if member.removed_by else "?"
                s = min(later)
                self.add(
                    W,
                    "after-removal",
                    f"{len(later)} entries written after the author's removal (by {by}, up to #{cut}): "
                    "kept as evidence, they have no effect",
                    author=chain.key,
                    seq=s,
                    id=chain.ids[s],
                    where=chain.frames[s],
                )
        if self.report.exported_by is not None:
            self.report.signer_role = role_label(m, self.report.exported_by)

    def _check_signer(self) -> None:
        """Only a member's node vouches for an export by itself: anyone can drop a tail or a whole author and
        export what is left from a home of their own, where every chain holds and the manifest agrees with
        the log (issue 12.4). A key that is no member (an HQ archive) vouches only when HQ pinned it."""
        signer, m = self.report.exported_by, self.membership
        if signer is None or not self.signature_ok or m is None:
            return  # the manifest's own problems say why
        if self.expected.signer is not None and matches(self.expected.signer, signer):
            return  # HQ pinned this key; _check_pins says so
        role = self.report.signer_role
        if role == "unknown":
            who = "a key that is no member of this team"
        elif role == "removed":
            who = f"{m.display_name(signer) or 'a member'}, removed from the team"
        else:
            return
        self.add(
            E,
            "signer-not-member",
            f"the manifest is signed by {who} ({signer.hex()[:16]}): anyone can drop entries from an export and "
            "sign what is left, so only a member's signature vouches for it. An HQ archive's export is verified "
            "with --expect-signer and the archive's key",
            where=manifest.SIGNATURE_FILE,
        )

    def _check_pins(self) -> None:
        """The team and the signer HQ expects, as ``meshchat export`` printed them (read over the radio)."""
        team_pin, signer_pin = self.expected.team, self.expected.signer
        if team_pin is not None and (self.team is None or not matches(team_pin, self.team)):
            found = f"team {self.team.hex()} ({self.report.team_name or 'no name'})" if self.team else "no known team"
            self.add(E, "unexpected-team", f"this export is of {found}, not of the team expected ({team_pin})")
        if signer_pin is None:
            return
        signer = self.report.exported_by
        if signer is None or not self.signature_ok:
            self.add(E, "unexpected-signer", f"no valid signature of the key expected ({signer_pin}) is here")
        elif not matches(signer_pin, signer):
            self.add(
                E,
                "unexpected-signer",
                f"the manifest is signed by {signer.hex()} ({self.report.signer_role or '?'}), "
                f"not by the key expected ({signer_pin})",
                where=manifest.SIGNATURE_FILE,
            )

    def _check_missing_authors(self) -> None:
        """Members whose membership entry is in the log but none of whose entries are. No heads entry names
        them (that would be ``missing-head``), so they may never have written anything that reached the
        exporter, or their whole log was left out: only another member's export can tell which."""
        m = self.membership
        assert m is not None
        named = {p.author for p in self.report.problems if p.code == "missing-head"}
        for key, member in m.members.items():
            if key in self.chains or key in named:
                continue
            self.report.names.setdefault(key, m.display_name(key))
            role = member.role.label if member.role is not None else "removed"
            by = (m.display_name(member.added_by) or member.added_by.hex()[:16]) if member.added_by else "?"
            self.add(
                W,
                "missing-author",
                f"a member ({role}, added by {by}) with not one entry in the export: they never wrote anything "
                "that reached the exporter, or their whole log was left out (compare another member's export)",
                author=key,
            )

    def _check_heads(self) -> None:
        assert self.summary is not None
        seen: set[tuple[bytes, int, bytes]] = set()
        for claim in self.summary.heads_claims:
            if (claim.author, claim.seq, claim.id) in self.bad_signatures:
                continue
            witness = f"the heads entry {self.report.names.get(claim.author, '')} {claim.author.hex()[:16]}#{claim.seq}"
            for author, (seq, eid) in claim.named.items():
                if (author, seq, eid) in seen:
                    continue
                seen.add((author, seq, eid))
                self.report.heads_checked += 1
                chain = self.chains.get(author)
                have = chain.ids.get(seq) if chain else None
                if have is None:
                    self.add(
                        E,
                        "missing-head",
                        f"named by {witness}, but not in the bundle: the export is incomplete",
                        author=author,
                        seq=seq,
                        id=eid,
                    )
                elif have != eid and eid not in self.confirmed_forks.get((author, seq), ()):
                    self.add(
                        E,
                        "head-mismatch",
                        f"named by {witness}, but the bundle's #{seq} is {have.hex()}: "
                        "an entry was replaced, or a fork lacks its proof",
                        author=author,
                        seq=seq,
                        id=eid,
                    )

    def _collect_retractions(self) -> None:
        """Each retraction, and whether it hid its target, judged by ``meshchat.log.effects`` as every node's
        views judge it (a target that is not a message in the log is not hidden)."""
        assert self.summary is not None and self.membership is not None
        m = self.membership
        targets = {r.target for r in self.summary.retractions}
        where: dict[bytes, tuple[bytes, int]] = {}
        for chain in self.chains.values():
            for seq, eid in chain.ids.items():
                if eid in targets:
                    where[eid] = (chain.key, seq)
        for r in self.summary.retractions:
            target_author, target_seq = where.get(r.target, (None, None))
            message_author = target_author if r.target in self.message_ids else None
            effective = retraction_hides(m, r.author, r.seq, r.clock, message_author)
            self.report.retractions.append(
                RetractionInfo(r.author, r.seq, r.id, r.target, target_author, target_seq, effective)
            )

    def _check_data_files(self) -> None:
        """Each data file (``entries.jsonl``, ``operation.sqlite``, ...) against the log it was made from."""
        assert self.membership is not None and self.team is not None
        listed = self.doc.get("data_files") if self.doc is not None else None
        named = (
            {n for n in listed if isinstance(n, str) and manifest.safe_relative(n)}
            if isinstance(listed, list)
            else set()
        )
        log_broken = any(p.code not in _WHO_VOUCHES for p in self.report.errors)
        for name in sorted(set(self.data_checks) | named):
            check = self.data_checks.get(name)
            if check is None:
                self.add(I, "data-unchecked", f"{name}: its digest was checked, its content not compared with the log")
                continue
            if log_broken and name != ENTRIES_FILE:
                self.add(W, "data-unchecked", f"{name} not compared with the log: the log itself has errors (above)")
                continue
            self.progress.stage(f"comparing {name} with the log")
            count = check(self.path, self.membership, self.team, self.add)
            if count:
                self.report.data_checked[name] = count

    def _expected_manifest(self) -> dict[str, Any]:
        """What the manifest should state, computed from the log as the exporter computes it."""
        assert self.summary is not None and self.membership is not None and self.team is not None
        return manifest.log_sections(
            team_id=self.team,
            team_name=self.summary.team_name(),
            heads=[AuthorHead(c.key, len(c.ids), c.head, c.ids[c.head]) for c in self.chains.values() if c.ids],
            forks=[ForkRecord(a, s, tuple(ids)) for (a, s), ids in self.confirmed_forks.items()],
            fork_proofs=self.report.fork_proofs,
            retractions=self.summary.retractions,
            membership=self.membership,
        )
