"""The JSON-RPC methods answered from an in-process py-evm chain, read directly."""
