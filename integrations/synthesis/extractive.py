"""Meeting notes from rules alone: offline, deterministic, standard library only.

This is the provider that always works: no model, no network, nothing to download, and the
same transcript always gives the same notes. It reads the transcript sentence by sentence
and relies on the phrases people use when they decide ("we decided to"), commit ("Carol
will", "Bob, can you", "I'll"), leave something open ("open question", "nobody knows")
and announce the agenda ("next, the beta feedback"). What people only imply is missed;
in exchange nothing is invented, which matters more for notes people act on.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from integrations.synthesis.base import (
    ActionItem,
    Evidence,
    MeetingContext,
    NoteItem,
    Notes,
    Utterance,
)


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Function words, fillers, and words too general to name a task or a topic. Everything
# else is a content word; content words drive merging, deduplication and topic scoring.
_STOP_WORDS = _word_set(
    """
    a about above across after again against ago ah ahead ain all almost along already also
    although always am among an and another any anybody anyone anything anyway anyways are
    aren around as ask asked at away back be became because been before being below best
    better between big bit both but by can cannot could couldn did didn do does doesn doing
    don done down during each either else enough even ever every everybody everyone
    everything exactly far few first for from further get gets getting give go goes going
    gone gonna good got gotta great had hadn has hasn have haven having he her here hers
    herself him himself his how however i if in instead into is isn it its itself just keep
    kind know known last later least less let like likely little lot lots made make makes
    making many may maybe me mean might mine more most much must my myself need needs never
    new next no nobody none nor not nothing now of off often oh ok okay on once one only onto
    or other others otherwise our ours ourselves out over own perhaps please point pretty
    probably put quite rather re really right said same say saying says see seem seems
    several shall she should shouldn since so some somebody someone something sometimes
    somewhat soon sort still such sure take taken than thank thanks that the their theirs
    them themselves then there these they thing things think this those though through thus
    to together too toward towards try trying uh um under unless until up upon us use used
    very via want wanted wants was wasn way we well went were weren what whatever when where
    whether which while who whole whom whose why will with within without won would wouldn
    yeah yes yet you your yours yourself yourselves ll ve d m s t mm hmm huh yep nope alright
    sorry hi hey hello excuse actually basically guys folks team stuff wanna kinda sorta
    thats dont youd heres theres whats im ive example examples
    time times day days week weeks month months year years today tonight tomorrow minute
    minutes hour hours sec second seconds moment monday tuesday wednesday thursday friday
    saturday sunday morning afternoon evening end start question questions idea ideas
    problem problems issue issues part look looking looked come coming came talk talking
    tell telling told asking needed fine
    """
)
# Counts, not subjects: "twenty five" is never what a meeting was about.
_NUMBER_WORDS = _word_set(
    """
    two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen
    sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty
    ninety hundred thousand million billion percent half
    """
)
_PRONOUNS = _word_set("it that this them those these one ones him her")

# Transcript markup ({vocalsound}, [laughter]) and hesitations carry no meaning.
_MARKUP = re.compile(r"\{[^}]*\}|\[[^\]]*\]|<[^>]*>")
_HESITATION = re.compile(r"\b(?:u+m+|u+h+|e+r+m+|h+m+|m+h*m+)\b[,.]?", re.IGNORECASE)
# Some corpora tokenise contractions and punctuation ("we 're", "do n't", "done .").
_SPLIT_CONTRACTION = re.compile(r" ' ?(?=(?:ll|s|re|ve|d|m|t)\b)| (?=n't\b)", re.IGNORECASE)
_SPACE_BEFORE_PUNCT = re.compile(r" (?=[,.;:!?])")
_REPEATED_PUNCT = re.compile(r"([,.;:!?])(?: ?[,.;:])+")
_WHITESPACE = re.compile(r"\s+")
# Transcribed speech often continues in lower case after a full stop, so any letter counts.
# Speech recognisers join sentences with commas; a name addressed with a request ("..., the
# main page, Peter, can you finish ...") starts a new one all the same.
_SENTENCE_BREAK = re.compile(
    r"(?<=[.!?]) (?=\S)"
    r"|,\s+(?=[A-Z][\w'-]+(?: [A-Z][\w'-]+)?,\s*(?i:(?:can|could|would|will) you|please)\b)"
)
_ABBREVIATION_END = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|St|vs|etc|e\.g|i\.e|a\.m|p\.m)\.$", re.I)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_HAS_LETTER_OR_DIGIT = re.compile(r"[^\W_]")

_LEADING_FILLER = re.compile(
    r"^(?:(?:okay|ok|so|then|well|alright|all right|right|yes|yeah|yep|good|great|agreed|fine|"
    r"and|but|now|also|sure|cool|anyway|perfect|excellent|basically|actually|honestly|"
    r"thanks|thank you|oh)(?![\w'-])[\s,.;:!-]*)+",
    re.IGNORECASE,
)
_TRAILING_FILLER = re.compile(
    r"(?:,\s*(?:okay|ok|then|please|right|alright|anyway|if that's okay|if that is okay"
    r"|if that works)|\s+(?:as well|please|for you|for us))+\s*$",
    re.IGNORECASE,
)
_TRAILING_PUNCT = re.compile(r"[\s,;:.!?\u2014-]+$")
_DANGLING_WORD = re.compile(r"\s+(?:and|or|but|so|then|because|to|the|a|an|of|with)$", re.I)

# Before a decision or a promise, these make the statement conditional or hedged.
_HEDGE = re.compile(
    r"\b(?:if|whether|unless|once|until|maybe|perhaps|might|probably|wonder|suppose|"
    r"hope|hopefully|guess|think|would|should|could|not|never)\b|n't\b",
    re.IGNORECASE,
)
# A decision phrase must open its clause; "the method we're going to use" is not one.
_CLAUSE_OPENING = re.compile(
    r"(?:^|[,;:\u2014]|\b(?:so|and|then|now|okay|ok|well|therefore|finally|yes|right))\s*$",
    re.IGNORECASE,
)
_DECISION = re.compile(
    r"\b(?:"
    r"we(?:'ve| have| all| both)?(?: all| both| finally| now| just| already)?"
    r" (?:decided|agreed)(?: (?:to|that|on|upon))?"
    r"|(?:it|that)(?:'s| is| has been| was) (?:been )?(?:decided|agreed)(?: (?:to|that|on))?"
    r"|(?:the |our )?(?:final )?decision (?:is|was) (?:to|that)"
    # "Let's use the photo" settles a choice; "let's use the time" only runs the meeting.
    r"|let(?:'s| us) (?=(?:(?:go|stick) with|go for|opt for|use|pick|choose|adopt)\b)"
    r"(?!\w+ (?:the |our )?(?:rest of the |remaining )?(?:time|minutes|meeting)\b)"
    r"|we(?:'ll| will|'re going to| are going to) (?=(?:go|stick) with\b)"
    r"|we(?:'ve| have)? settled on"
    r"|final answer(?: is)?"
    # "We're going to talk about X" runs the meeting; only other verbs commit the team.
    r"|we(?:'re| are) going to (?!(?:talk|discuss|cover|look|hear|start|begin|go|see|have|need|"
    r"try|be|get|do|wait|move|continue|take|break|finish|end|want|show|present|run|lose|miss|"
    r"find|come|keep|leave|stop|ask|say|hand)\b)"
    r")[\s:,]*(?:(?:to|that) )*",
    re.IGNORECASE,
)
# A new subject or a reason ends what was decided: "meet at ten and I will ..." -> "meet at ten".
_DECISION_END = re.compile(
    r"(?:[;\u2014]|\s-\s|,?\s+(?:because|but|although|though|since)\b"
    r"|,?\s+(?:and|so)\s+(?:then\s+)?(?:I|we|you|they|he|she)\b).*$",
    re.IGNORECASE,
)
_MAX_DECISION_WORDS = 35

_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_MONTH = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november|december)"
)
_ORDINAL = (
    r"(?:\d{1,2}(?:st|nd|rd|th)?|(?:twenty|thirty)[- ](?:first|second|third|fourth|fifth|"
    r"sixth|seventh|eighth|ninth)|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|"
    r"tenth|eleventh|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|"
    r"eighteenth|nineteenth|twentieth|thirtieth)"
)
_DUE = re.compile(
    r"\b(?:(?:by|before|until|till|no later than|on|for)\s+)?(?P<due>"
    r"(?:the\s+)?end\s+of\s+(?:the\s+|this\s+|next\s+)?(?:day|week|month|quarter|sprint|year)"
    r"|(?:the\s+)?(?:start|beginning|middle)\s+of\s+(?:the\s+|this\s+|next\s+)?"
    r"(?:week|month|quarter|sprint|year)"
    r"|end\s+of\s+business|eod|eow|cob"
    r"|today|tonight|tomorrow(?:\s+(?:morning|afternoon|evening|night))?"
    r"|this\s+(?:week|weekend|afternoon|evening|morning|month|quarter|sprint)"
    r"|(?:the\s+)?next\s+(?:week|weekend|month|quarter|sprint|meeting|call|sync)"
    rf"|(?:next\s+|this\s+)?{_WEEKDAY}(?:\s+(?:morning|afternoon|evening|night))?"
    rf"|(?:the\s+)?{_ORDINAL}(?:\s+of)?\s+{_MONTH}"
    rf"|{_MONTH}\s+(?:the\s+)?{_ORDINAL}"
    r"|(?:in|within)\s+(?:a|one|two|three|four|five|six|\d+)\s+(?:days?|weeks?|months?)"
    r")\b",
    re.IGNORECASE,
)
_LEADING_THE = re.compile(r"^the\s+", re.IGNORECASE)

# The speaker promising something: "I'll", "I will", "I am going to", "I can" (not "can't").
_FIRST_PERSON_COMMITMENT = re.compile(
    r"(?<![\w'])I(?:'ll| will| shall|'m going to| am going to|'m gonna| am gonna"
    r"| can(?!'t|not\b|\s+not\b|n't))(?P<task>(?:\s.*)?)$",
    re.IGNORECASE,
)
# A named person will do something: "Carol will", "Carol's going to" (the name is checked
# against the people in the meeting, so "Finance will" is not an owner).
_NAMED_COMMITMENT = re.compile(
    r"(?P<name>[A-Z][\w-]+(?: [A-Z][\w-]+)?)"
    r"(?:\s+(?:will|is going to|is gonna|shall)|'ll|'s going to|'s gonna)\s+(?P<task>.+)$"
)
# Someone addressed by name and asked: "Bob, can you ...", "Tom, please ...".
_ADDRESSED_REQUEST = re.compile(
    r"^(?P<name>[A-Z][\w'-]+(?: [A-Z][\w'-]+)?),\s*"
    r"(?i:(?:can|could|would|will) you(?: please)?|please)\s+(?P<task>.+)$"
)
_TRAILING_NAME_REQUEST = re.compile(
    r"^(?i:(?:can|could|would|will) you(?: please)?|please)\s+(?P<task>.+?),\s*"
    r"(?P<name>[A-Z][\w'-]+(?: [A-Z][\w'-]+)?)\s*[?.!]?$"
)
_UNADDRESSED_REQUEST = re.compile(r"^(?:can|could) you(?: please)?\s+(?P<task>.+)$", re.I)
# Only a reply that takes the task on: "yes" or "of course they do" also answer "can you
# use the sample data?", which asks what is possible, not for work.
_TAKES_IT_ON = re.compile(
    r"^(?:(?:yes|yeah|okay|ok|sure|of course|absolutely|no problem)[\s,.!]+)*"
    r"(?:i will|i'll|i can|will do)\b|^(?:sure|will do|no problem)[.!]?$",
    re.IGNORECASE,
)
_TASK_LEAD = re.compile(
    r"^(?:(?:also|then|just|definitely|certainly|quickly|personally|now|still|please|mostly|"
    r"really|actually|basically|simply|first|firstly|go ahead and|make sure to|have to|"
    r"need to|try and)\s+)+",
    re.IGNORECASE,
)
# What follows these is a reason, an aside or another promise, not part of the task.
_TASK_END = re.compile(
    r"(?:[;:\u2014]|\s-\s|,?\s+(?:but|because|since|although|though|so that|unless|if|which|"
    r"and then)\b|,\s+(?:so|I|we|you|they|he|she)\b|\s+(?:and\s+)?(?:I|we)(?:'ll| will)\b).*$",
    re.IGNORECASE,
)
# Tasks done in the meeting itself ("I'll show you the slide in a second") are not actions.
_IN_MEETING = re.compile(
    r"\b(?:in a (?:sec|second|minute|moment|bit)|right now|just now|shortly|"
    r"on the (?:screen|whiteboard|board|slide)|this meeting|the floor)\b",
    re.IGNORECASE,
)
# First words that make "I'll ..." narrate the meeting or hedge rather than promise.
_NOT_A_TASK = _word_set(
    """
    be see hear say tell show explain understand imagine assure guess think mean remember
    go start begin stop leave pass hand turn come repeat mention answer agree admit accept
    try let give keep wait move need want like love bet focus describe summarise summarize
    read respond speak introduce walk clarify elaborate comment hope not never probably
    maybe always only sit stay mind it that this
    """
)
_MAX_TASK_WORDS = 20

_OPEN_LEAD = re.compile(
    r"\b(?:open|unresolved|outstanding)\s+(?:question|issue|point|item)s?\b"
    r"(?:\s+(?:is|was|remains|here))?[\s:,.-]*",
    re.IGNORECASE,
)
_UNDECIDED = re.compile(
    r"\b(?:(?:still|yet)\s+(?:have|need|got)\s+to\s+(?:decide|figure out|work out|find out|settle)"
    r"|(?:have|has)(?:n't| not)\s+(?:yet\s+)?(?:been\s+)?(?:decided|agreed|settled|resolved)"
    r"|(?:is|are|remains?)\s+(?:still\s+)?(?:undecided|unresolved|unclear|up in the air|tbd"
    r"|to be (?:decided|determined|confirmed))"
    r"|(?:still|yet)\s+to\s+be\s+(?:decided|determined|confirmed)"
    r"|not\s+(?:yet\s+)?(?:decided|settled|resolved)|tbd)\b[\s:,]*",
    re.IGNORECASE,
)
# A reply that leaves the question just asked without an answer. "I don't know" must end
# its clause: "I don't know if this was collected in a lab" goes on to say something.
_OPEN_RESPONSE = re.compile(
    r"\b(?:(?:(?:i|we)\s+(?:do not|don't|did not|didn't|really don't|honestly don't)\s+know"
    r"|(?:nobody|no one)(?:\s+here)?\s+knows|(?:i'm|i am|we're|we are)\s+not\s+sure"
    r"|no idea)(?:\s+(?:yet|either|for sure))?\s*(?:[.,;!]|$)"
    r"|(?:keep|leave)\s+(?:it|that|this)\s+open"
    r"|(?:it|that|this)\s+(?:stays|remains|is still)\s+open"
    r"|(?:park|table)\s+(?:it|that|this)\b|take\s+(?:it|that|this)\s+offline)",
    re.IGNORECASE,
)
_EMBEDDED_QUESTION = re.compile(
    r"^(?:on\s+|about\s+)?(?P<question>(?:whether|if|how|what|when|who|which|where|why)\b.+)$",
    re.IGNORECASE,
)
# "..., right?", "..., OK?": a tag asks for a nod, not an answer.
_TAG_QUESTION = re.compile(
    r"(?:,\s*|\s)(?:ok|okay|right|yeah|yes|no|huh|eh|sort of|kind of|you know|isn't it)\?$",
    re.IGNORECASE,
)
_MAX_QUESTION_WORDS = 30
_CLAUSE_SPLIT = re.compile(r"[,;]|\s(?:so|and|but)\s", re.IGNORECASE)
_VOCATIVE = re.compile(r"^[A-Z][\w'-]+(?: [A-Z][\w'-]+)?,\s+(?=\w)")
_TRAILING_VOCATIVE = re.compile(r",\s*[A-Z][\w'-]+(?: [A-Z][\w'-]+)?(?=\s*\?$)")

_AGENDA_LIST = re.compile(
    r"\b(?:i|we)(?:'d| would)? (?:want|like|need|plan|are going|'re going|will|'ll)? ?(?:to )?"
    r"(?:cover|discuss|talk about|go through|go over|review|look at)\s+(?P<items>.+)$",
    re.IGNORECASE,
)
_AGENDA_ITEM = re.compile(
    r"^(?:(?:so|and|okay|now|then)[\s,]+)*"
    r"(?:first|firstly|next|then|finally|lastly|last|moving on to|on to|now to|back to)"
    r"(?:\s+(?:topic|item|point|up))?(?:\s+is)?[\s,:]+(?P<topic>.+)$",
    re.IGNORECASE,
)
_TOPIC_THEN_FIRST = re.compile(r"^(?P<topic>[a-z][a-z ]{2,40}?)\s+first$", re.IGNORECASE)
_TOPIC_INTRO = re.compile(
    r"^(?:(?:so|and|okay|now)[\s,]+)*(?:for|regarding|as for|about|on)\s+(?P<topic>[^,]{3,40}),",
    re.IGNORECASE,
)
_LIST_SEPARATOR = re.compile(r",\s*(?:and\s+|or\s+)?|\s+(?:and|or)\s+", re.IGNORECASE)
_NOT_IN_TOPIC = _word_set(
    "i we you they he she it is are was were be been has have had do does did will would can "
    "could should"
)
_DETERMINER = re.compile(r"^(?:the|a|an|our|their|your|this|that|these|those|some)\s+", re.I)
_MAX_TOPICS = 8
# A topic is a noun phrase; runs of content words that end in a verb or an adjective
# ("it stays open", "the option shows", "text darker") are talk about something, not it.
_NOT_A_PHRASE_HEAD = _word_set(
    """stays shows goes says works looks seems needs wants gets makes takes comes means helps
    loads runs open closed ready late early darker lighter better worse faster slower
    slowly quickly"""
)

_PURPOSE = re.compile(
    r"\b(?:today we (?:need|want|have|are going|'re going) to"
    r"|the (?:goal|purpose|aim|point|focus)"
    r"(?: of (?:this|the|today's) (?:meeting|call|session))? is"
    r"|we(?:'re| are) (?:here|gathered) (?:to|for|at)"
    r"|this (?:meeting|call|session) is (?:about|for|to)"
    r"|this is (?:the |our |a )?(?:\w+ ){0,2}(?:meeting|review|call|session|sync)\b"
    r"|let(?:'s| us) (?:start|begin|kick off) (?:the|with|our)|the agenda (?:is|for today)"
    r"|welcome to)\b",
    re.IGNORECASE,
)
_MAX_SUMMARY_DECISIONS = 3
_MAX_QUOTE_WORDS = 30
_MAX_SUMMARY_WORDS = 45

# Share of the smaller item's content words two items must have in common to be one item.
_MERGE_OVERLAP = 0.6


@dataclass(frozen=True, slots=True)
class _Sentence:
    position: int
    turn: int
    speaker: str | None
    text: str

    @property
    def is_question(self) -> bool:
        return self.text.endswith("?")


@dataclass(slots=True)
class _Item:
    text: str
    owner: str | None
    due: str | None
    turn: int
    requested: bool
    said_in: _Sentence


@dataclass(frozen=True, slots=True)
class _OpenQuestion:
    text: str
    position: int


class _People:
    """Names heard in the meeting, so "Carol" can be reported as "Carol Singh"."""

    def __init__(self, names: Iterable[str]) -> None:
        full_names: list[str] = []
        for name in names:
            cleaned = _WHITESPACE.sub(" ", name).strip()
            if cleaned and cleaned not in full_names:
                full_names.append(cleaned)
        owners_by_variant: dict[str, list[str]] = {}
        for full in full_names:
            parts = full.split()
            for variant in (full, parts[0], parts[-1]):
                # "Grad A" and "Will Smith" must not make every "a" or "will" a person.
                if len(variant) < 2 or variant.lower() in _STOP_WORDS:
                    continue
                owners = owners_by_variant.setdefault(variant, [])
                if full not in owners:
                    owners.append(full)
        # A first name two people share names neither of them.
        self._by_variant = {
            variant: owners[0] for variant, owners in owners_by_variant.items() if len(owners) == 1
        }

    def resolve(self, name: str) -> str | None:
        name = name.strip()
        if name in self._by_variant:
            return self._by_variant[name]
        # "Then Carol" at the start of a sentence: the name is the last capitalised word.
        return self._by_variant.get(name.split()[-1]) if name else None

    def speaker(self, label: str | None) -> str | None:
        # A diarized "Carol" is reported as the invited "Carol Singh"; "SPEAKER_01" as is.
        return None if label is None else self.resolve(label) or label

    def is_known(self, word: str) -> bool:
        return word in self._by_variant


class ExtractiveSynthesizer:
    """Rule-based notes; the provider used when no language model is configured."""

    name = "extractive"

    def synthesize(self, utterances: Sequence[Utterance], meeting: MeetingContext) -> Notes:
        """Notes for a transcript; one with nothing said gives empty notes and summary ""."""
        sentences = _sentences(utterances)
        if not sentences:
            return Notes(summary="", provider=self.name, model=None)
        people = _People(
            [*(a.name for a in meeting.attendees), *(u.speaker for u in utterances if u.speaker)]
        )
        decisions = _decisions(sentences)
        actions = _action_items(sentences, people)
        questions = _open_questions(sentences)
        texts = [d.text for d in decisions]
        question_texts = [q.text for q in questions]
        return Notes(
            summary=_summary(sentences, meeting.title, texts, actions, question_texts, people),
            key_decisions=[NoteItem(d.text, _evidence(d.said_in, utterances)) for d in decisions],
            action_items=[
                ActionItem(
                    text=item.text,
                    owner=item.owner,
                    due=item.due,
                    evidence=_evidence(item.said_in, utterances),
                )
                for item in actions
            ],
            open_questions=[
                NoteItem(q.text, _evidence(sentences[q.position], utterances)) for q in questions
            ],
            key_topics=_topics(sentences),
            provider=self.name,
            model=None,
        )


@dataclass(frozen=True, slots=True)
class _Found:
    text: str
    said_in: _Sentence


def _evidence(sentence: _Sentence, utterances: Sequence[Utterance]) -> Evidence:
    """The sentence an item was read from, as said: the quote its grounding checks."""
    words = sentence.text.split()
    return Evidence(
        segment_ids=(utterances[sentence.turn].segment_id,),
        quote=" ".join(words[:_MAX_QUOTE_WORDS]),
    )


def _clean(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = _MARKUP.sub(" ", text)
    text = _HESITATION.sub(" ", text)
    text = _WHITESPACE.sub(" ", text)
    text = _SPLIT_CONTRACTION.sub("", text)
    text = _SPACE_BEFORE_PUNCT.sub("", text)
    text = _REPEATED_PUNCT.sub(r"\1", text)
    return text.strip(" ,;:")


def _sentences(utterances: Sequence[Utterance]) -> list[_Sentence]:
    sentences: list[_Sentence] = []
    for turn, utterance in enumerate(utterances):
        pieces: list[str] = []
        for piece in _SENTENCE_BREAK.split(_clean(utterance.text)):
            if pieces and _ABBREVIATION_END.search(pieces[-1]):
                pieces[-1] = f"{pieces[-1]} {piece}"
            else:
                pieces.append(piece)
        for piece in pieces:
            if _HAS_LETTER_OR_DIGIT.search(piece):
                sentences.append(_Sentence(len(sentences), turn, utterance.speaker, piece))
    return sentences


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "'s")):
        return word[:-1]
    return word


def _content_words(text: str) -> list[str]:
    return [
        _stem(w)
        for w in _WORD.findall(text.lower())
        if w not in _STOP_WORDS and len(w) > 1 and "'" not in w
    ]


def _overlap(first: str, second: str) -> float:
    a, b = set(_content_words(first)), set(_content_words(second))
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def _strip_fillers(text: str) -> str:
    text = _LEADING_FILLER.sub("", text.strip())
    return _TRAILING_FILLER.sub("", text).strip()


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _as_statement(text: str) -> str:
    return _capitalise(_TRAILING_PUNCT.sub("", _strip_fillers(text)))


def _decisions(sentences: Sequence[_Sentence]) -> list[_Found]:
    decisions: list[_Found] = []
    for sentence in sentences:
        if sentence.is_question:
            continue
        match = _DECISION.search(sentence.text)
        if match is None:
            continue
        before = sentence.text[: match.start()]
        if _HEDGE.search(before) or not _CLAUSE_OPENING.search(before):
            continue
        decision = _as_statement(_DECISION_END.sub("", sentence.text[match.end() :]))
        if len(_content_words(decision)) < 2:
            # "The blue case, that's decided.": the decision came before the phrase.
            decision = _as_statement(before)
        words = len(decision.split())
        if len(_content_words(decision)) < 2 or words > _MAX_DECISION_WORDS:
            continue
        if not any(_overlap(decision, seen.text) >= _MERGE_OVERLAP for seen in decisions):
            decisions.append(_Found(decision, sentence))
    return decisions


def _split_due(text: str) -> tuple[str, str | None]:
    match = _DUE.search(text)
    if match is None:
        return text, None
    due = _LEADING_THE.sub("", _WHITESPACE.sub(" ", match.group("due")))
    return f"{text[: match.start()]} {text[match.end() :]}", due


def _task(raw: str) -> tuple[str, str | None]:
    """The task as an imperative ("Fix the token refresh bug") and its due phrase."""
    text, due = _split_due(raw.strip())
    text = _TASK_END.sub("", text)
    text = _WHITESPACE.sub(" ", _TASK_LEAD.sub("", text.strip()))
    text = _TRAILING_PUNCT.sub("", _TRAILING_FILLER.sub("", text))
    text = _DANGLING_WORD.sub("", text).strip()
    return _capitalise(text), due


def _commitment(
    sentences: Sequence[_Sentence], index: int, people: _People
) -> tuple[str | None, str, bool] | None:
    """Who was asked or promised, the raw task, and whether it was asked of them."""
    sentence = sentences[index]
    text = _strip_fillers(sentence.text)
    request = _ADDRESSED_REQUEST.match(text) or _TRAILING_NAME_REQUEST.match(text)
    if request is not None:
        name = request.group("name")
        # A name nobody else used is still the owner when addressed directly.
        owner = people.resolve(name) or (
            name if name.lower() not in _STOP_WORDS and " " not in name else None
        )
        if owner is not None:
            return owner, request.group("task"), True
    if sentence.is_question:
        unaddressed = _UNADDRESSED_REQUEST.match(text)
        reply = None if unaddressed is None else _next_turn_start(sentences, index)
        if (
            unaddressed is not None
            and reply is not None
            and reply.turn == sentence.turn + 1
            and reply.speaker not in (None, sentence.speaker)
            and _TAKES_IT_ON.match(reply.text)
        ):
            return people.speaker(reply.speaker), unaddressed.group("task"), True
        return None
    for named in _NAMED_COMMITMENT.finditer(text):
        owner = people.resolve(named.group("name"))
        if owner is not None and not _HEDGE.search(text[: named.start()]):
            return owner, named.group("task"), False
    first_person = _FIRST_PERSON_COMMITMENT.search(text)
    if first_person is not None and not _HEDGE.search(text[: first_person.start()]):
        return people.speaker(sentence.speaker), first_person.group("task"), False
    return None


def _action_items(sentences: Sequence[_Sentence], people: _People) -> list[_Item]:
    items: list[_Item] = []
    for index, sentence in enumerate(sentences):
        found = _commitment(sentences, index, people)
        if found is None:
            continue
        owner, raw_task, requested = found
        if _IN_MEETING.search(raw_task):
            continue
        text, due = _task(raw_task)
        words = _WORD.findall(text.lower())
        if words and (words[0] in _NOT_A_TASK or len(words) > _MAX_TASK_WORDS):
            continue
        if len(_content_words(text)) < 2:
            # "Sure, I'll do it": the task is whatever was just asked of this speaker.
            _take_on(items, owner, due, sentence.turn)
            continue
        _add_item(items, _Item(text, owner, due, sentence.turn, requested, sentence))
    return items


def _next_turn_start(sentences: Sequence[_Sentence], index: int) -> _Sentence | None:
    turn = sentences[index].turn
    for sentence in sentences[index + 1 :]:
        if sentence.turn != turn:
            return sentence
    return None


def _owners_compatible(first: str | None, second: str | None) -> bool:
    return first is None or second is None or first == second


def _take_on(items: list[_Item], owner: str | None, due: str | None, turn: int) -> None:
    for item in reversed(items):
        if item.turn < turn - 2:
            return
        if item.requested and _owners_compatible(item.owner, owner):
            item.owner = item.owner or owner
            item.due = item.due or due
            return


def _add_item(items: list[_Item], new: _Item) -> None:
    for item in items:
        if not _owners_compatible(item.owner, new.owner):
            continue
        if _overlap(item.text, new.text) < _MERGE_OVERLAP:
            continue
        # One task said twice ("can you ..." / "yes, I will ..."): keep the fuller wording
        # and the deadline said with it.
        if len(_content_words(new.text)) > len(_content_words(item.text)):
            item.text, item.due = new.text, new.due or item.due
            item.said_in = new.said_in
        else:
            item.due = item.due or new.due
        item.owner = item.owner or new.owner
        return
    items.append(new)


def _question_text(text: str) -> str:
    text = _VOCATIVE.sub("", _strip_fillers(text))
    text = _TRAILING_PUNCT.sub("", _TRAILING_VOCATIVE.sub("", text))
    return _capitalise(text) + "?"


def _open_questions(sentences: Sequence[_Sentence]) -> list[_OpenQuestion]:
    found: list[_OpenQuestion] = []
    claimed: set[int] = set()

    def add(text: str, position: int) -> None:
        claimed.add(position)
        if not any(_overlap(text, q.text) >= _MERGE_OVERLAP for q in found):
            found.append(_OpenQuestion(text, position))

    for index, sentence in enumerate(sentences):
        lead = _OPEN_LEAD.search(sentence.text)
        if lead is not None:
            rest = sentence.text[lead.end() :]
            before = _strip_fillers(sentence.text[: lead.start()])
            if len(_content_words(rest)) >= 2:
                add(_question_text(rest), sentence.position)
            elif len(_content_words(before)) >= 2:
                # "Whether we need a privacy review is an open question."
                add(_question_text(before.rsplit(" is ", 1)[0]), sentence.position)
            elif index + 1 < len(sentences):
                # "One open question. Do we need ...?": the question is the next sentence.
                following = sentences[index + 1]
                if following.is_question or (
                    following.turn == sentence.turn and len(_content_words(following.text)) >= 3
                ):
                    add(_question_text(following.text), following.position)
            continue
        undecided = None if sentence.is_question else _UNDECIDED.search(sentence.text)
        if undecided is not None:
            embedded = _EMBEDDED_QUESTION.match(sentence.text[undecided.end() :])
            if embedded is not None and len(_content_words(embedded.group("question"))) >= 2:
                add(_question_text(embedded.group("question")), sentence.position)
                continue
            clause = _CLAUSE_SPLIT.split(sentence.text[: undecided.start()])[-1]
            if any(w not in _PRONOUNS for w in _content_words(clause)):
                # "The venue is still to be decided." names what is open itself.
                add(_as_statement(sentence.text), sentence.position)
                continue
        if undecided is not None or _OPEN_RESPONSE.search(sentence.text):
            asked = _question_left_open(sentences, index)
            if asked is not None and asked.position not in claimed:
                add(_question_text(asked.text), asked.position)
    return found


def _question_left_open(sentences: Sequence[_Sentence], index: int) -> _Sentence | None:
    """The question a "nobody knows" reply refers to: the last one asked, this turn or the last."""
    turn = sentences[index].turn
    for sentence in reversed(sentences[:index]):
        if sentence.turn < turn - 1:
            return None
        if sentence.is_question:
            asked = _VOCATIVE.sub("", _strip_fillers(sentence.text))
            if (
                _UNADDRESSED_REQUEST.match(asked)
                or _TAG_QUESTION.search(asked)
                or len(_content_words(asked)) < 2
                or len(asked.split()) > _MAX_QUESTION_WORDS
            ):
                return None
            return sentence
    return None


def _topic_phrase(text: str) -> str | None:
    phrase = _DETERMINER.sub("", _TRAILING_PUNCT.sub("", text.strip()).lower()).strip()
    words = phrase.split()
    # A noun phrase starts and ends on a content word: "or after the fourth" is not one.
    if not 1 <= len(words) <= 4 or not all(_content_words(w) for w in (words[0], words[-1])):
        return None
    if any(w in _NOT_IN_TOPIC for w in words):
        return None
    return phrase


def _announced_topics(sentences: Sequence[_Sentence]) -> list[str]:
    announced: list[str] = []
    for sentence in sentences:
        text = _TRAILING_PUNCT.sub("", sentence.text)
        candidates: list[str] = []
        if (listed := _AGENDA_LIST.search(text)) is not None:
            candidates = _LIST_SEPARATOR.split(listed.group("items"))
        elif (item := _AGENDA_ITEM.match(text)) is not None:
            candidates = [item.group("topic")]
        elif (first := _TOPIC_THEN_FIRST.match(text)) is not None:
            candidates = [first.group("topic")]
        elif (intro := _TOPIC_INTRO.match(text)) is not None:
            candidates = [intro.group("topic")]
        for candidate in candidates:
            phrase = _topic_phrase(candidate)
            if phrase is not None and phrase not in announced:
                announced.append(phrase)
    return announced


def _frequent_phrases(sentences: Sequence[_Sentence]) -> list[str]:
    """Runs of content words (1-3), scored by how many turns use them, TF-IDF style."""
    turns_with: dict[tuple[str, ...], set[int]] = {}
    surface: dict[tuple[str, ...], str] = {}
    # Stem per distinct word, not per occurrence; "" marks a word that breaks a phrase.
    stems: dict[str, str] = {}
    for sentence in sentences:
        runs: list[list[str]] = [[]]
        for word in _WORD.findall(sentence.text.lower()):
            stem = stems.get(word)
            if stem is None:
                topical = not (
                    len(word) < 3
                    or word in _STOP_WORDS
                    or word in _NUMBER_WORDS
                    or "'" in word
                    or word.isdigit()
                )
                stem = stems[word] = _stem(word) if topical else ""
            if stem:
                runs[-1].append(word)
            elif runs[-1]:
                runs.append([])
        for run in runs:
            for size in range(1, min(3, len(run)) + 1):
                for start in range(len(run) - size + 1):
                    gram = run[start : start + size]
                    key = tuple(stems[w] for w in gram)
                    turns_with.setdefault(key, set()).add(sentence.turn)
                    phrase = " ".join(gram)
                    # The shortest spelling is usually the singular one.
                    if len(phrase) < len(surface.setdefault(key, phrase)):
                        surface[key] = phrase
    total_turns = sentences[-1].turn + 1
    scored: list[tuple[float, str]] = []
    for key, turns in turns_with.items():
        if len(turns) < (2 if len(key) > 1 else 3):
            continue
        if surface[key].rsplit(" ", 1)[-1] in _NOT_A_PHRASE_HEAD:
            continue
        # A word heard in nearly every turn is the meeting's vocabulary, not a topic.
        weight = len(turns) * math.log(1 + total_turns / len(turns))
        scored.append((weight * (1.5 * len(key) if len(key) > 1 else 1.0), surface[key]))
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    return [phrase for _, phrase in scored]


def _topics(sentences: Sequence[_Sentence]) -> list[str]:
    topics: list[str] = []
    covered: list[set[str]] = []
    for phrase in [*_announced_topics(sentences), *_frequent_phrases(sentences)]:
        words = {_stem(w) for w in phrase.split()}
        if any(words <= seen or seen <= words for seen in covered):
            continue
        topics.append(phrase)
        covered.append(words)
        if len(topics) == _MAX_TOPICS:
            break
    return topics


def _shorten(text: str) -> str:
    words = text.split()
    if len(words) <= _MAX_SUMMARY_WORDS:
        return text
    return " ".join(words[:_MAX_SUMMARY_WORDS]).rstrip(",;:") + " ..."


def _lower_first(text: str, people: _People) -> str:
    first = text.split()[0]
    if first == "I" or people.is_known(first) or first[1:2].isupper():
        return text
    return text[:1].lower() + text[1:]


def _key_sentences(sentences: Sequence[_Sentence], count: int) -> list[_Sentence]:
    """Complete statements richest in the words the meeting keeps coming back to."""
    contents = [set(_content_words(s.text)) for s in sentences]
    frequency = Counter(w for content in contents for w in content)
    ranked: list[tuple[float, int, _Sentence]] = []
    for sentence, content in zip(sentences, contents, strict=True):
        words = sentence.text.split()
        if (
            sentence.is_question
            or _HEDGE.search(sentence.text)
            or not 8 <= len(words) <= 40
            or not sentence.text[0].isupper()
            or len(content) < len(words) / 3
        ):
            continue
        score = sum(frequency[w] for w in content) / math.sqrt(len(words))
        ranked.append((score, sentence.position, sentence))
    ranked.sort(key=lambda entry: (-entry[0], entry[1]))
    return sorted((entry[2] for entry in ranked[:count]), key=lambda s: s.position)


def _summary(
    sentences: Sequence[_Sentence],
    title: str | None,
    decisions: Sequence[str],
    actions: Sequence[_Item],
    questions: Sequence[str],
    people: _People,
) -> str:
    parts: list[str] = []
    # The purpose is stated early; a later "the goal is" is about something narrower.
    opening = sentences[: max(10, len(sentences) // 5)]
    purpose = next((s for s in opening if not s.is_question and _PURPOSE.search(s.text)), None)
    if purpose is not None:
        parts.append(_as_statement(_shorten(purpose.text)) + ".")
    elif title:
        parts.append(f"Meeting: {title.strip().rstrip('.')}.")
    # Without decisions to report, the meeting's most central statements stand in for them.
    wanted = (0 if parts else 1) if decisions else 3 - len(parts)
    for sentence in _key_sentences(sentences, wanted):
        if purpose is None or sentence.position != purpose.position:
            parts.append(_as_statement(_shorten(sentence.text)) + ".")
    if decisions:
        chosen = [_lower_first(d, people) for d in decisions[:_MAX_SUMMARY_DECISIONS]]
        parts.append("Decided: " + "; ".join(chosen) + ".")
    if actions:
        owners = list(dict.fromkeys(a.owner for a in actions if a.owner))
        noun = "action item was" if len(actions) == 1 else "action items were"
        assigned = f" assigned to {_join(owners)}" if owners else " recorded"
        parts.append(f"{len(actions)} {noun}{assigned}.")
    if questions:
        noun = "question remains" if len(questions) == 1 else "questions remain"
        parts.append(f"{len(questions)} {noun} open.")
    if not parts:
        # Too short for any rule to fire: what was said is the best summary there is.
        said = next((s for s in sentences if _content_words(s.text)), sentences[0])
        parts.append(_shorten(said.text))
    return " ".join(parts)


def _join(names: Sequence[str]) -> str:
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]
