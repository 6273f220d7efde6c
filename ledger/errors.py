"""The one error tree of provledger.

Every failure the ledger reports is a :class:`LedgerError`. Subclasses also inherit the builtin
they most resemble (``ValueError``, ``LookupError``, ``PermissionError``…) in the manner of
web3.py's exceptions, so callers that only know the builtin still catch them.

Each class carries a stable machine-readable ``code`` (used verbatim as the problem ``type``
suffix by the HTTP layer) and a human ``message``. Contract custom errors are decoded into
:class:`ContractRevertError` subclasses by :mod:`ledger.chain.revert`; foreign exceptions
(web3, eth-tester, sockets) are translated at the chain boundary and never escape raw.
"""

from __future__ import annotations

from typing import Any, ClassVar


class LedgerError(Exception):
    """Base class of every error raised by provledger."""

    code: ClassVar[str] = "ledger-error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


# --- input and pure-code errors -------------------------------------------------------------


class InvalidInputError(LedgerError, ValueError):
    """A value given to the ledger is malformed (wrong length, wrong type, out of range)."""

    code = "invalid-input"


class InvalidDigestError(InvalidInputError):
    """A digest is not exactly 32 bytes, or its text form is not ``0x`` + 64 hex digits."""

    code = "invalid-digest"


class CanonicalizationError(InvalidInputError):
    """Metadata cannot be canonicalised (RFC 8785): non-finite floats, non-string keys…"""

    code = "invalid-metadata"


class InvalidJsonError(InvalidInputError):
    """Bytes are not a JSON document: not UTF-8, a control character in a string, a byte no JSON
    text has there, a closing bracket with nothing to close, or an end inside a value."""

    code = "invalid-json"


class JsonTooDeepError(InvalidInputError):
    """A JSON document nests arrays and objects deeper than allowed. Refused before any parser
    sees it: recursive parsers (and a raised recursion limit) would overflow the C stack."""

    code = "json-too-deep"


class BodyTooLargeError(InvalidInputError):
    """A request body is larger than its endpoint accepts."""

    code = "body-too-large"


class UploadTooLargeError(BodyTooLargeError):
    """An uploaded file is larger than the service hashes (``max_upload_bytes``)."""

    code = "upload-too-large"


class BlobTooLargeError(BodyTooLargeError):
    """A blob streamed into the store is larger than it was allowed to be; nothing is kept."""

    code = "blob-too-large"


class BlobDigestMismatchError(InvalidInputError):
    """The bytes of a blob do not hash to the digest announced for them (cut short or
    altered on the way); nothing is kept."""

    code = "blob-digest-mismatch"


class IncompleteUploadError(InvalidInputError):
    """An upload ended before its end: a multipart body without its closing boundary (the
    client stopped or the connection was cut), so its hash would be of partial bytes."""

    code = "upload-incomplete"


class NotAcceptableError(InvalidInputError):
    """None of the representations a client accepts is one the service can give (a format or
    an ``Accept`` header naming only unknown media types)."""

    code = "not-acceptable"


class ExportTooLargeError(InvalidInputError):
    """A standards export (a PROV document) would hold more records than one answer may; the
    message says how to ask for less."""

    code = "export-too-large"


class MerkleError(LedgerError):
    """Base class for Merkle tree errors."""

    code = "merkle-error"


class InvalidProofError(MerkleError, ValueError):
    """An inclusion proof does not verify: states what was expected and what was computed."""

    code = "invalid-proof"


class AccessProofError(InvalidProofError):
    """An access proof bundle (:mod:`ledger.access_proof`) does not hold: the message says what
    was expected and what was found."""

    code = "access-proof-invalid"


class AccessProofMalformedError(AccessProofError):
    """A bundle is not a readable access proof, or contradicts itself (a request of another
    department or dataset, events out of order, a state block before the time proven)."""

    code = "access-proof-malformed"


class AccessProofHistoryError(AccessProofError):
    """A request's events do not hash to the history head the bundle claims: an event was
    removed (a hidden revocation), added or altered."""

    code = "access-proof-history-mismatch"


class AccessProofHeadError(AccessProofError):
    """The history head (or event count) a bundle claims for a request is not the one the
    contract stores at the bundle's block."""

    code = "access-proof-head-mismatch"


class AccessProofIncompleteError(AccessProofError):
    """The chain has a request of the department for the dataset that the bundle leaves out."""

    code = "access-proof-incomplete"


class AccessProofVerdictError(AccessProofError):
    """The verdict a bundle claims is not the one its events give."""

    code = "access-proof-verdict-mismatch"


class AccessProofChainError(AccessProofError):
    """Something a bundle places on the chain is not there: another chain or contract, a
    block of another hash or time, an event not in its transaction."""

    code = "access-proof-not-on-chain"


class ConfigurationError(LedgerError):
    """The service is configured in a way it cannot run with (missing deployment, chain…)."""

    code = "configuration-error"


class AuthenticationError(LedgerError, PermissionError):
    """No valid credentials were presented (missing, unknown or revoked token)."""

    code = "unauthenticated"


class ForbiddenError(LedgerError, PermissionError):
    """The authenticated principal may not do this (another department's object, wrong role)."""

    code = "forbidden"


class ResourceNotFoundError(LedgerError, LookupError):
    """The service knows no such object (dataset, operation, request, department)."""

    code = "not-found"


class EncryptionKeyNotPublishedError(ResourceNotFoundError):
    """The department has published no encryption key (nothing can be wrapped to it yet)."""

    code = "encryption-key-not-published"


class BlobNotFoundError(ResourceNotFoundError):
    """The blob store holds no blob of that digest."""

    code = "blob-not-found"


class AccessNotGrantedError(ForbiddenError):
    """The chain's ``hasAccess`` is false for this department and dataset at the current block:
    never granted, expired, revoked, the department suspended or the dataset withdrawn."""

    code = "access-not-granted"


class AccessRevokedError(AccessNotGrantedError):
    """The department's grant on the dataset was revoked by its owner."""

    code = "access-revoked"


class AccessExpiredError(AccessNotGrantedError):
    """The department's grant on the dataset has expired."""

    code = "access-expired"


class NotSealedError(ResourceNotFoundError):
    """The version was registered without sealed bytes: there is nothing to fetch."""

    code = "not-sealed"


class WrappedKeyNotFoundError(ResourceNotFoundError):
    """No content key of this sealed version is wrapped to the department yet (a self-custody
    owner wraps it in its own client after approving)."""

    code = "wrapped-key-not-found"


class ReceiptMismatchError(InvalidInputError):
    """A delivery receipt names a version, content hash or sealed bytes' hash that is not the
    sealed version the chain and the service hold."""

    code = "receipt-mismatch"


class ReceiptRequestError(InvalidInputError):
    """A delivery receipt's request id is not an approved grant of the receiving department on
    that dataset."""

    code = "receipt-wrong-request"


class ReceiptTimeError(InvalidInputError):
    """A delivery receipt's time is too far from the chain's time to be believed."""

    code = "receipt-time-skew"


class IdempotencyConflictError(LedgerError):
    """An Idempotency-Key was reused with a different request body."""

    code = "idempotency-conflict"


class IdempotencyInProgressError(IdempotencyConflictError):
    """Another request with the same Idempotency-Key is still being processed: retry later."""

    code = "idempotency-key-in-use"


# --- keys ----------------------------------------------------------------------------------


class KeystoreError(LedgerError):
    """Base class for keystore failures."""

    code = "keystore-error"


class KeystoreNotFoundError(KeystoreError, LookupError):
    """No keystore exists for the requested department."""

    code = "keystore-not-found"


class KeystoreDecryptionError(KeystoreError, PermissionError):
    """The passphrase does not open the keystore (or the file is corrupt)."""

    code = "keystore-bad-passphrase"


class KeystoreExistsError(KeystoreError, FileExistsError):
    """A keystore for this department exists already; refusing to overwrite a key."""

    code = "keystore-exists"


# --- blob store ------------------------------------------------------------------------------


class BlobStoreError(LedgerError):
    """The blob store failed in a way a client cannot fix: it refused the service's
    credentials, its bucket is missing, or it answered what a store should not."""

    code = "blob-store-error"


class BlobStoreUnavailableError(BlobStoreError, ConnectionError):
    """The blob store could not be reached or is overloaded (connection refused, timeout, an
    answer cut short, a 5xx or ``SlowDown``): retry later."""

    code = "blob-store-unavailable"


# --- sealed exchange (issue 13) -------------------------------------------------------------


class SealError(LedgerError):
    """Base class for failures of sealed data exchange: sealed streams and wrapped keys."""

    code = "seal-error"


class SealFormatError(SealError, ValueError):
    """The bytes are not a sealed stream: wrong magic, or a header field out of range."""

    code = "seal-format"


class SealVersionError(SealFormatError):
    """The stream is sealed in a format version this code does not know."""

    code = "seal-unknown-version"


class SealKeyError(SealError, PermissionError):
    """The content key does not open the stream: its key commitment does not match (a wrong
    key, or a header altered after sealing)."""

    code = "seal-wrong-key"


class SealTamperedError(SealError, ValueError):
    """A chunk of a sealed stream fails authentication: its bytes were altered."""

    code = "seal-tampered"


class SealReorderedError(SealTamperedError):
    """An authentic chunk of the stream sits at another position than its own: chunks were
    reordered, dropped or duplicated."""

    code = "seal-reordered"


class SealTrailingDataError(SealTamperedError):
    """Bytes follow the final chunk of a sealed stream."""

    code = "seal-trailing-data"


class SealTruncatedError(SealError, EOFError):
    """A sealed stream ends early: inside its header or a chunk, or before its final chunk."""

    code = "seal-truncated"


class SealContentMismatchError(SealError, ValueError):
    """A stream opened intact, but its plaintext is not the content expected (its SHA-256
    differs from the digest on chain): the wrong file was sealed or fetched."""

    code = "seal-content-mismatch"


class EncryptionKeyFormatError(SealError, ValueError):
    """An encoded encryption key (public or private) is malformed or of an unknown suite."""

    code = "encryption-key-invalid"


class EncryptionKemUnsupportedError(EncryptionKeyFormatError):
    """An encryption key of a KEM the key directory does not accept."""

    code = "encryption-kem-unsupported"


class WrappedKeyError(SealError, PermissionError):
    """A wrapped content key does not unwrap: it was wrapped for another recipient or key, for
    another context (chain, registry, dataset, sealed version, department), or altered."""

    code = "wrapped-key-invalid"


class WrappedKeySuiteError(WrappedKeyError):
    """A wrapped content key and the private key offered to unwrap it use different HPKE
    suites."""

    code = "wrapped-key-suite-mismatch"


class WrappedKeyRecipientError(SealError, ValueError):
    """A wrapped content key handed to the service is wrapped to a key that is not the
    recipient department's key in force on chain."""

    code = "wrapped-key-wrong-recipient"


class SealedBlobMissingError(SealError, LookupError):
    """A sealed registration names sealed bytes the blob store does not hold (or holds with
    another size): upload them first."""

    code = "sealed-blob-missing"


class RecipientKeyMissingError(SealError, LookupError):
    """A content key would be wrapped to a department that has published no encryption key
    (or is suspended): it must publish one first."""

    code = "recipient-key-missing"


# --- compiler and artifacts ----------------------------------------------------------------


class ToolchainError(LedgerError, RuntimeError):
    """A development toolchain (node, the pinned npm packages: solc, the documentation
    assets) is missing or failed."""

    code = "toolchain-error"


class CompilationError(ToolchainError):
    """solc reported errors for the contracts."""

    code = "compilation-error"


class ArtifactError(LedgerError, LookupError):
    """A compiled artifact is missing or malformed."""

    code = "artifact-error"


# --- chain ---------------------------------------------------------------------------------


class ChainError(LedgerError):
    """Base class for errors talking to a chain."""

    code = "chain-error"


class ChainUnavailableError(ChainError, ConnectionError):
    """The chain could not be reached (RPC down, connection refused, timeout)."""

    code = "chain-unavailable"


class ChainMismatchError(ChainError):
    """The chain answered with a chain id other than the one configured."""

    code = "chain-mismatch"


class DeploymentTooOldError(ChainError):
    """The deployment was made before a contract a feature needs was added to provledger."""

    code = "deployment-too-old"


class TransactionFailedError(ChainError):
    """A transaction was mined but reverted with data the ledger cannot decode."""

    code = "transaction-failed"

    def __init__(self, message: str, *, tx_hash: str | None = None, data: bytes = b"") -> None:
        super().__init__(message)
        self.tx_hash = tx_hash
        self.data = data


class ContractRevertError(ChainError):
    """A contract reverted with a known custom error.

    ``error_name`` is the Solidity error name, ``args`` its decoded arguments by name. The
    subclass tells the kind of refusal; the subclasses are generated from the contracts' ABIs
    in :mod:`ledger.chain.revert` and grouped under the classes below.
    """

    code = "contract-revert"
    #: The Solidity error this class stands for (empty on the category classes).
    solidity_name: ClassVar[str] = ""
    #: ``str.format`` template over the error's arguments, for the human message.
    template: ClassVar[str] = "the contract reverted"

    def __init__(self, args: dict[str, Any] | None = None, *, message: str | None = None) -> None:
        self.args_by_name: dict[str, Any] = dict(args or {})
        super().__init__(message or self.template.format(**self.args_by_name))

    @property
    def error_name(self) -> str:
        return self.solidity_name or type(self).__name__


class UnauthorizedError(ContractRevertError, PermissionError):
    """The caller is not allowed to perform the action (wrong role, not the owner…)."""

    code = "unauthorized"


class InvalidSignatureError(UnauthorizedError):
    """An EIP-712 signature is malformed, expired, replayed or from the wrong signer."""

    code = "invalid-signature"


class NotFoundError(ContractRevertError, LookupError):
    """The contract does not know the department, dataset, version, request or batch."""

    code = "not-found"


class ConflictError(ContractRevertError):
    """The action conflicts with current state (exists already, wrong status, withdrawn)."""

    code = "conflict"


class ContractInputError(ContractRevertError, ValueError):
    """The contract rejected an argument as invalid (zero hash, bad expiry…)."""

    code = "contract-invalid-input"


class PausedError(ContractRevertError):
    """Governance has paused all writes."""

    code = "paused"


# --- JSON-RPC (the read-only /rpc endpoint) -------------------------------------------------


class RpcError(LedgerError):
    """A JSON-RPC call answered with an error object.

    ``rpc_code`` is the JSON-RPC error code (JSON-RPC 2.0, EIP-1474), ``data`` the error's
    optional ``data`` member (revert data as 0x-hex). The message is written for people and never
    carries Python exception text.
    """

    code = "rpc-error"
    #: JSON-RPC error code of the class.
    default_rpc_code: ClassVar[int] = -32603

    def __init__(self, message: str, *, data: str | None = None) -> None:
        super().__init__(message)
        self.data = data

    @property
    def rpc_code(self) -> int:
        return self.default_rpc_code


class RpcParseError(RpcError, ValueError):
    """The body is not JSON (or is larger or deeper than a JSON-RPC request can be)."""

    code = "rpc-parse-error"
    default_rpc_code = -32700


class RpcInvalidRequestError(RpcError, ValueError):
    """The JSON is not a valid JSON-RPC 2.0 request object (or batch of them)."""

    code = "rpc-invalid-request"
    default_rpc_code = -32600


class RpcMethodNotFoundError(RpcError, LookupError):
    """The method does not exist here or is refused (writes, mining, debugging)."""

    code = "rpc-method-not-found"
    default_rpc_code = -32601


class RpcInvalidParamsError(RpcError, ValueError):
    """A parameter is missing, superfluous or malformed; the message names it."""

    code = "rpc-invalid-params"
    default_rpc_code = -32602


class RpcInternalError(RpcError):
    """The server failed to answer (an EVM worker died, a node is unreachable)."""

    code = "rpc-internal-error"
    default_rpc_code = -32603


class RpcExecutionError(RpcError):
    """The call was valid but could not be carried out (unknown block, insufficient funds, an
    EVM error other than a revert): geth's generic server error code."""

    code = "rpc-execution-error"
    default_rpc_code = -32000


class RpcRevertedError(RpcExecutionError):
    """``eth_call`` reverted; ``data`` is the raw revert data (execution-apis error code 3)."""

    code = "rpc-reverted"
    default_rpc_code = 3


class RpcTimeoutError(RpcExecutionError, TimeoutError):
    """An EVM call ran out of its time budget (geth: ``execution aborted (timeout = 5s)``)."""

    code = "rpc-timeout"


class RpcLimitExceededError(RpcError):
    """A bound was hit: too many logs, or every EVM worker is busy (EIP-1474: -32005)."""

    code = "rpc-limit-exceeded"
    default_rpc_code = -32005


class RpcNodeError(RpcError):
    """An error object of the JSON-RPC node behind the endpoint, passed through unchanged."""

    code = "rpc-node-error"

    def __init__(self, rpc_code: int, message: str, *, data: str | None = None) -> None:
        super().__init__(message, data=data)
        self._node_code = rpc_code

    @property
    def rpc_code(self) -> int:
        return self._node_code


# --- contract custom errors ----------------------------------------------------------------
# One class per Solidity custom error of the contracts (and of the OpenZeppelin code they use).
# ``ledger.chain.revert`` decodes revert data into these by selector; a test checks that every
# error in every committed ABI has its class here.


class AccessControlUnauthorizedAccountError(UnauthorizedError):
    solidity_name = "AccessControlUnauthorizedAccount"
    template = "account {account} lacks role {neededRole}"


class AccessControlBadConfirmationError(UnauthorizedError):
    solidity_name = "AccessControlBadConfirmation"
    template = "an account may only renounce its own roles"


class AccessControlEnforcedDefaultAdminRulesError(UnauthorizedError):
    solidity_name = "AccessControlEnforcedDefaultAdminRules"
    template = "the default admin role can only change hands through the two-step transfer"


class AccessControlEnforcedDefaultAdminDelayError(UnauthorizedError):
    solidity_name = "AccessControlEnforcedDefaultAdminDelay"
    template = "the admin transfer delay has not passed (schedule {schedule})"


class AccessControlInvalidDefaultAdminError(ContractInputError):
    solidity_name = "AccessControlInvalidDefaultAdmin"
    template = "{defaultAdmin} cannot become the default admin"


class EnforcedPauseError(PausedError):
    solidity_name = "EnforcedPause"
    template = "governance has paused all department writes"


class ExpectedPauseError(ConflictError):
    solidity_name = "ExpectedPause"
    template = "the ledger is not paused"


class DepartmentInvalidIdError(ContractInputError):
    solidity_name = "DepartmentInvalidId"
    template = "department id {departmentId} is out of range: ids run from 1 to 2**63 - 1"


class DepartmentInvalidNameError(ContractInputError):
    solidity_name = "DepartmentInvalidName"
    template = "a department name must be 1 to 128 bytes"


class DepartmentAlreadyEnrolledError(ConflictError):
    solidity_name = "DepartmentAlreadyEnrolled"
    template = "department {departmentId} is enrolled already"


class DepartmentUnknownError(NotFoundError):
    solidity_name = "DepartmentUnknown"
    template = "no department {departmentId} is enrolled"


class DepartmentUnknownSignerError(UnauthorizedError):
    solidity_name = "DepartmentUnknownSigner"
    template = "{account} is not the current key of any department"


class DepartmentInactiveError(UnauthorizedError):
    solidity_name = "DepartmentInactive"
    template = "department {departmentId} is suspended"


class DepartmentNotSuspendedError(ConflictError):
    solidity_name = "DepartmentNotSuspended"
    template = "department {departmentId} is not suspended"


class DepartmentSignerUnavailableError(ConflictError):
    solidity_name = "DepartmentSignerUnavailable"
    template = "key {signer} is zero or was already used by a department"


class SignatureExpiredError(InvalidSignatureError):
    solidity_name = "SignatureExpired"
    template = "the signature expired at {deadline} (block time {blockTime})"


class SignatureWrongSignerError(InvalidSignatureError):
    solidity_name = "SignatureWrongSigner"
    template = "the signature recovers to {recovered}, not department {departmentId}'s key"


class InvalidAccountNonceError(InvalidSignatureError):
    solidity_name = "InvalidAccountNonce"
    template = "the signature's nonce was used already or is out of order (next is {currentNonce})"


class ECDSAInvalidSignatureError(InvalidSignatureError):
    solidity_name = "ECDSAInvalidSignature"
    template = "the signature is not a valid ECDSA signature"


class ECDSAInvalidSignatureLengthError(InvalidSignatureError):
    solidity_name = "ECDSAInvalidSignatureLength"
    template = "the signature is {length} bytes, expected 65"


class ECDSAInvalidSignatureSError(InvalidSignatureError):
    solidity_name = "ECDSAInvalidSignatureS"
    template = "the signature's s value {s} is in the upper half of the curve order (malleable)"


class DatasetAlreadyExistsError(ConflictError):
    solidity_name = "DatasetAlreadyExists"
    template = "dataset {datasetId} exists already"


class DatasetUnknownError(NotFoundError):
    solidity_name = "DatasetUnknown"
    template = "no dataset {datasetId}"


class DatasetNotOwnerError(UnauthorizedError):
    solidity_name = "DatasetNotOwner"
    template = "department {departmentId} does not own dataset {datasetId}"


class DatasetIsWithdrawnError(ConflictError):
    solidity_name = "DatasetIsWithdrawn"
    template = "dataset {datasetId} is withdrawn"


class DatasetUnknownParentError(NotFoundError):
    solidity_name = "DatasetUnknownParent"
    template = "parent version {version} of dataset {datasetId} does not exist"


class DatasetTooManyParentsError(ContractInputError):
    solidity_name = "DatasetTooManyParents"
    template = "{count} parents given, at most {max} allowed"


class DatasetTooManyVersionsError(ConflictError):
    solidity_name = "DatasetTooManyVersions"
    template = "dataset {datasetId} has the maximum number of versions"


class DatasetZeroContentHashError(ContractInputError):
    solidity_name = "DatasetZeroContentHash"
    template = "the content hash is zero"


class DatasetInvalidClassificationError(ContractInputError):
    solidity_name = "DatasetInvalidClassification"
    template = "classification {classification} is out of range (0-3)"


class AccessRequestExistsError(ConflictError):
    solidity_name = "AccessRequestExists"
    template = "access request {requestId} exists already"


class AccessUnknownRequestError(NotFoundError):
    solidity_name = "AccessUnknownRequest"
    template = "no access request {requestId}"


class AccessOwnDatasetError(ConflictError):
    solidity_name = "AccessOwnDataset"
    template = "a department cannot request access to its own dataset {datasetId}"


class AccessNotDatasetOwnerError(UnauthorizedError):
    solidity_name = "AccessNotDatasetOwner"
    template = "department {departmentId} does not own the dataset of request {requestId}"


class AccessNotRequesterError(UnauthorizedError):
    solidity_name = "AccessNotRequester"
    template = "department {departmentId} did not make request {requestId}"


class AccessInvalidStatusError(ConflictError):
    solidity_name = "AccessInvalidStatus"
    template = "request {requestId} is {status_name}, which does not allow this"

    _STATUS: ClassVar[tuple[str, ...]] = (
        "unknown",
        "pending",
        "approved",
        "denied",
        "cancelled",
        "revoked",
        "superseded",
    )

    def __init__(self, args: dict[str, Any] | None = None, *, message: str | None = None) -> None:
        args = dict(args or {})
        status = int(args.get("status", 0))
        name = self._STATUS[status] if status < len(self._STATUS) else str(status)
        super().__init__(args, message=message or self.template.format(status_name=name, **args))


class AccessInvalidExpiryError(ContractInputError):
    solidity_name = "AccessInvalidExpiry"
    template = "expiry {expiresAt} must be after the block time {blockTime} and at most {latest}"


class AccessInvalidDurationError(ContractInputError):
    solidity_name = "AccessInvalidDuration"
    template = "requested duration {duration} s is zero or longer than ten years"


class AnchorExistsError(ConflictError):
    solidity_name = "AnchorExists"
    template = "batch root {root} was anchored already"


class AnchorInvalidSizeError(ContractInputError):
    solidity_name = "AnchorInvalidSize"
    template = "batch size {size} is zero or too large"


class AnchorUnknownError(NotFoundError):
    solidity_name = "AnchorUnknown"
    template = "no batch with root {root} is anchored"


class AnchorZeroRootError(ContractInputError):
    solidity_name = "AnchorZeroRoot"
    template = "the batch root is zero"


class KeyDirectoryUnknownKemError(ContractInputError):
    solidity_name = "KeyDirectoryUnknownKem"
    template = "HPKE KEM {kemId:#06x} is not accepted (0x0020 X25519, 0x647a MLKEM768-X25519)"


class KeyDirectoryInvalidKeyLengthError(ContractInputError):
    solidity_name = "KeyDirectoryInvalidKeyLength"
    template = "a {length}-byte public key is the wrong length for HPKE KEM {kemId:#06x}"


class KeyDirectoryNoKeyError(NotFoundError):
    solidity_name = "KeyDirectoryNoKey"
    template = "department {departmentId} has published no encryption key"


class KeyDirectoryDepartmentInactiveError(ConflictError):
    solidity_name = "KeyDirectoryDepartmentInactive"
    template = "department {departmentId} is suspended or unknown: nothing may be wrapped to it"


class InvalidShortStringError(ContractInputError):
    solidity_name = "InvalidShortString"
    template = "invalid short string"


class StringTooLongError(ContractInputError):
    solidity_name = "StringTooLong"
    template = "string too long: {str}"


class SafeCastOverflowedUintDowncastError(ContractInputError):
    solidity_name = "SafeCastOverflowedUintDowncast"
    template = "value {value} does not fit in {bits} bits"


def contract_error_classes() -> dict[str, type[ContractRevertError]]:
    """Every concrete contract error class by its Solidity name."""
    found: dict[str, type[ContractRevertError]] = {}
    pending: list[type[ContractRevertError]] = [ContractRevertError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.solidity_name:
            found[cls.solidity_name] = cls
    return found
