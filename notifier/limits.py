"""The most each field may hold, in characters unless said otherwise: one number per field,
used alike by the CLI, the admin API, case files, list files and subscriber CSV files.

Each is far above anything a person writes for that field, and low enough that no message
built from it gets out of hand: a 2.2 MB update body once got in through a case file and
became a 4.6 MB email and 667 Telegram messages to every chat. Where a column has a size in
the store, the limit is that size, so nothing is refused only by the database."""

from __future__ import annotations

#: A person's, a case's or a list's name; each spelling of a case's name (store: 200).
NAME = 200
#: A case's or a list's slug, part of links and commands (store: 120).
SLUG = 120
#: What a case's person is: "pastor", "church member" (store: 80).
ROLE = 80
#: A country as written in a file (a code or an English name): the longest ISO name is ~60.
COUNTRY = 100

#: An update's title: one line, a subject and a headline (store: 300).
TITLE = 300
#: An update's stable key within its case (store: 200).
UPDATE_KEY = 200
#: Who reported it, "Forum 18" (store: 200).
SOURCE = 200
#: A link to a source. Longer ones are tracking parameters, and a link must fit whole in one
#: Telegram message (4,096 characters) with its text (store: 1,000).
URL = 1_000
#: An update's text. 10,000 characters is some 1,500 words, ten times the longest update of the
#: sample cases: three Telegram messages of 4,096, and an alert email (text and HTML) under
#: Gmail's ~100 KB clipping even in Cyrillic, where a character takes two bytes. Longer reports
#: belong at the source, which the update links to.
BODY = 10_000

#: A case's background, on its page and in the bot (not in every message).
SUMMARY = 10_000
#: A prayer, printed under its case in every alert and digest with news of it: three times
#: the sample cases' longest.
PRAYER = 4_000
#: One "what you can do" item, printed with its case in every message like the prayer.
ACTION = 1_000
#: A postal address (a prison's, an action's): a dozen lines at most.
ADDRESS = 1_000
#: How to write to a prisoner (what to say, what not to send).
GUIDANCE = 2_000
#: How many spellings, actions and sources one case may list.
SPELLINGS = 50
ACTIONS = 50
SOURCES = 100
#: How many languages one case or update may be translated into.
TRANSLATIONS = 30

#: A case file uploaded in the console (characters): a hundred cases with their histories.
CASE_FILE = 2_000_000
#: A list's member file (CSV) uploaded in the console, in bytes: some 200,000 rows of address
#: and name, far more than a prayer chain has; past it the file is refused by name, unread.
MEMBER_FILE = 10_000_000

#: A list's own templates: the name of its folder under lists/ (store: 60).
LIST_TEMPLATE = 60
#: A mailing list's description, shown where people sign up.
DESCRIPTION = 2_000
#: An email address: RFC 5321 allows 64 + 1 + 255 (store: 320).
EMAIL = 320
#: A language tag such as "en" or "pt-BR" (store: 20).
LOCALE = 20
#: An IANA time zone name: the longest is 32 characters (store: 64).
TIME_ZONE = 64
#: A Telegram chat id, either sign: Telegram's use 52 bits; the store's column holds 63.
TELEGRAM_CHAT_ID = 2**62
#: A console password: long passphrases welcome; past this it is not a password (Argon2 hashes
#: any length, but a megabyte posted to the login form should not be).
PASSWORD = 1_000
#: A user's name for one of their API tokens.
TOKEN_NAME = 100
#: The most audit entries one page (`notifier audit list`, the API) shows.
AUDIT_PAGE = 1_000
#: A row's id as a page's address or form gives it (an update's, say): the store's integer
#: ids hold 31 bits, so anything past this is no row at all.
ROW_ID = 2**31 - 1
