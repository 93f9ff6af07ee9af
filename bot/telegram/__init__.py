"""The Telegram side outside handlers: the watcher's Notifier, the cards, flood control."""
