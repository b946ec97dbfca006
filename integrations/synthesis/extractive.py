"""Meeting notes from rules alone: offline, deterministic, standard library only.

This is the provider that always works: no model, no network, nothing to download, and the
same transcript always gives the same notes. It reads the transcript sentence by sentence
and relies on the phrases people use when they decide ("we decided to"), commit ("Carol
will", "Bob, can you", "I'll"), leave something open ("open question", "nobody knows")
and announce the agenda ("next, the beta feedback"). Real meetings rarely say "we decided",
so it also reads how they do decide: the chair's wrap-up ("if we go away with that, ..."),
"alright, that's decided", and a proposal the others take up ("yeah, okay", or saying it
back) that nobody turns down. What people only imply is missed; in exchange nothing is
invented, which matters more for notes people act on: every item cites the segment it was
read from with a verbatim quote.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import stopwordsiso

from integrations.people import Roster, is_anonymous
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
# Speech restarts: "the the price", "we we could".
_REPEATED_WORD = re.compile(r"\b(\w+)(?: \1\b)+", re.IGNORECASE)
# Transcribed speech often continues in lower case after a full stop, so any letter counts.
# Speech recognisers join sentences with commas; a name addressed with a request ("..., the
# main page, Peter, can you finish ...") starts a new one all the same.
_SENTENCE_BREAK = re.compile(
    r"(?<=[.!?]) (?=\S)"
    r"|,\s+(?=[A-Z][\w'-]+(?: [A-Z][\w'-]+)?,\s*(?i:(?:can|could|would|will) you|please)\b)"
)
_ABBREVIATION_END = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|St|vs|etc|e\.g|i\.e|a\.m|p\.m)\.$", re.I)
# Letters of any script ("prüfung", "señal" are one word each). A French elision ("l'",
# "qu'") is left off the word it is joined to; an English contraction stays one word.
_WORD = re.compile(r"\b(?:(?:[cdjlmnst]|qu)'(?=[^\W_]))?([^\W_]+(?:'[^\W_]+)?)")
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
    r"hope|hopefully|guess|think|reckon|would|should|could|not|never)\b|n't\b",
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
    r"|(?:let(?:'s| us) (?=(?:(?:go|stick) with|go for|opt for|use|pick|choose|adopt)\b)"
    r"|we(?:'ll| will) (?=use\b))"
    r"(?!\w+ (?:the |our )?(?:rest of the |remaining )?"
    r"(?:time|minutes|meeting|whiteboard|slides?)\b)"
    r"|we(?:'ll| will|'re going to| are going to) (?=(?:go|stick) with\b|go for\b)"
    r"|we(?:'re| are) (?:going|gonna go) (?:with|for)\b"
    r"|we(?:'ve| have)? settled on"
    r"|we(?:'re| are) (?:planning|aiming|intending) to|the plan is to"
    r"|final answer(?: is)?"
    # "We're going to talk about X" runs the meeting; only other verbs commit the team.
    r"|we(?:'re| are) going to (?!(?:talk|discuss|cover|look|hear|start|begin|go|see|have|need|"
    r"try|be|get|do|wait|move|continue|take|break|finish|end|want|show|present|run|lose|miss|"
    r"find|come|keep|leave|stop|ask|say|hand|the|a|an|our|this|that|my|your)\b)"
    r")[\s:,]*(?:(?:to|that) )*",
    re.IGNORECASE,
)
# A new subject or a reason ends what was decided: "meet at ten and I will ..." -> "meet at ten".
_DECISION_END = re.compile(
    r"(?:[;\u2014]|\s-\s|,?\s+(?:because|but|although|though|since)\b"
    r"|,?\s+(?:and|so)\s+(?:then\s+)?(?:of course\s+)?(?:I|we|you|they|he|she)\b).*$",
    re.IGNORECASE,
)
_MAX_DECISION_WORDS = 35

# Real talk rarely says "we decided". The chair sums up ("if we go away with that, ..."),
# declares the last proposal settled ("alright, that's decided"), or someone proposes and
# the others take it up ("yeah, okay"; or they say it back). These rules find those.
_WRAP_UP = re.compile(
    r"\b(?:(?:if|so|when) we (?:go away|come away|leave|walk away) with (?:that|this|these)"
    r"(?: (?:\w+ ){0,5}?in mind)?(?: that)?"
    r"|(?:to sum (?:it |this )?up|in summary|to summari[sz]e|to recap|so to wrap (?:it |this )?up)"
    r"(?=\s*[,:])"
    r"|so (?:the|our) (?:decisions?|conclusion|outcome) (?:is|are|was|were)"
    r"|so what we(?:'ve| have) (?:got|decided|agreed)(?: on)? is)\b[\s:,]*",
    re.IGNORECASE,
)
_SETTLED = re.compile(
    r"^(?:(?:so|then|okay|ok|alright|all right|right|good|great|yes|yeah|fine)[\s,.!]+)*"
    r"(?:(?:that's|that is|it's|it is|that's all) (?:decided|settled|agreed|final|a deal)"
    r"|(?:we're|we are) (?:agreed|settled|decided))[\s.!]*$",
    re.IGNORECASE,
)
# "Okay, so the case will be yellow": the chair states what something is to be.
_WILL_BE = re.compile(
    r"^(?:okay|ok|alright|all right|right|so)\b[\s,]*(?:so\b[\s,]*)?"
    r"(?=(?:the|our) (?:\w+ ){1,4}(?:will|is going to|'s going to|is gonna|'ll)"
    r" (?:be|have|use|include|get|cost)\b)",
    re.IGNORECASE,
)
# What people say when they put something forward; the lead is dropped from the item.
_PROPOSAL = re.compile(
    r"^(?:(?:so|okay|ok|well|then|and|maybe|perhaps)[\s,]+)*"
    r"(?:(?:if )?we (?:go|could go|should go|can go) (?:for|with)"
    r"|we(?:'re| are) (?:going|gonna go) (?:for|with)"
    r"|why don't we|what if we|how about"
    r"|i(?: would|'d)? (?:suggest|propose)(?: that)?(?: we)?(?! you\b)"
    r"|i(?: would|'d) go (?:for|with)|i vote (?:for )?|let's say"
    r"|we (?:could|should|can|might as well) (?=(?:use|have|make|put|add|include|take|choose|"
    r"pick|keep|offer|target|drop|sell|build|buy|hire|ship|move)\b))\b\s*",
    re.IGNORECASE,
)
_ASSENT = (
    r"(?:yeah|yes|yep|yup|okay|ok|alright|all right|right|sure|fine|good|great|cool|nice|"
    r"mm-hmm|uh-huh|exactly|definitely|absolutely|of course|agreed|perfect|indeed)"
)
_WEAK_ASSENT = re.compile(rf"^(?:{_ASSENT}[\s,.!]*)+$", re.IGNORECASE)
_ASSENT_WORD = re.compile(rf"\b{_ASSENT}\b", re.IGNORECASE)
_TRAILING_ASSENT = re.compile(rf"(?:[\s,]+{_ASSENT})+[\s.!?]*$", re.IGNORECASE)
# Agreement that hedges still agrees: "I guess so", "why not", "could work".
_HEDGED_ASSENT = re.compile(
    r"^(?:i (?:guess|suppose|think) so|i (?:guess|suppose)|why not|(?:it |that )?could work"
    r"|(?:that |it )?should (?:work|be fine)|i can live with (?:that|it)|(?:fine|okay) by me"
    r"|if you (?:say so|like|want))\b",
    re.IGNORECASE,
)
# "Yeah, for the front, and ...": agreeing first, then building on it.
_ASSENT_LEAD = re.compile(rf"^{_ASSENT}[\s,.!]+\w", re.IGNORECASE)
_STRONG_ASSENT = re.compile(
    r"\b(?:i (?:totally |fully )?agree|agreed|sounds (?:good|great|fine|right|like a plan)"
    r"|(?:that's|that is|it's|that'd be) (?:a )?(?:good|great|fine|nice|perfect|the best)\b"
    r"|good idea|let's do (?:it|that)|go for it|makes sense|fair enough|works for me"
    r"|(?:let's )?go (?:with|for) (?:that|it)|deal(?=[.!]*$)"
    r"|i like (?:it|that)|(?:that's|that is) (?:the|what) (?:\w+ )?we (?:want|need))\b",
    re.IGNORECASE,
)
_REJECTION = re.compile(
    rf"^(?:{_ASSENT}[\s,.!]+)?(?:no|nah|nope|not|never|but|although|though|hmm|"
    r"i don't|i do not|i'm not sure|(?:that's|it's|that is) (?:too|not)|too)\b",
    re.IGNORECASE,
)
# A bare noun phrase put on the table ("titanium back, plastic front") has none of these;
# a sentence with them reports or argues, and "yeah" to it is not a decision.
_CLAUSE_WORDS = _word_set(
    """
    i you he she we they it its it's that's there's here's what's who's i'm you're we're
    they're he's she's i'll we'll you'll they'll i've we've you've they've i'd we'd you'd
    is are was were be been am has have had do does did will would can could should shall
    might must not don't doesn't didn't isn't aren't wasn't can't won't
    """
)
# Words that open a fragment or a reply, not something put forward.
_NOT_A_PROPOSAL_START = _word_set(
    """
    no not never but and or so because for among at in on with of to from even like if
    than as just only also oh well about after before by into over under between through
    during without within regarding
    """
)
# ", yeah," and ", you know," inside what was decided say nothing about it.
_INLINE_FILLER = re.compile(
    r",\s*(?:yeah|yes|okay|ok|you know|i mean|sort of|kind of|like)(?=\s*,)", re.IGNORECASE
)
# Running the meeting is not deciding anything, nor is naming a topic.
_RUNS_THE_MEETING = re.compile(
    r"(?:move on|go on|carry on|continue|start|begin|wrap up|finish|stop|have a look|look at"
    r"|talk about|discuss|present|go through|go over|about|regarding|as for)\b",
    re.IGNORECASE,
)
_MEETING_WORDS = _word_set("meet meeting agenda lunch break slide slides presentation minutes")
# How far after a proposal the others' reaction is looked for.
_REACTION_SENTENCES = 6
_SETTLED_LOOKBACK = 10
_ECHO_MAX_WORDS = 12
# Longer turns argue; what they put forward is cut at the first new clause anyway.
_MAX_PROPOSAL_WORDS = 60
_MAX_PLAIN_PROPOSAL_WORDS = 12
_WRAP_UP_ITEMS = 4
_WRAP_UP_ITEM_WORDS = 3
_MAX_DECISIONS = 8
# How much each way of deciding says; the highest scores fill the capped list first.
_SCORE_EXPLICIT = 6
_SCORE_WRAP_UP = 5
_SCORE_SETTLED = 5
_SCORE_WILL_BE = 4
_MIN_PROPOSAL_SCORE = 2

# Question forms that need no "?" (speech recognisers rarely write one).
_QUESTION_FORM = re.compile(
    r"^(?:(?:what|which|who|whose|where|when|why|how)(?:'s|'re)?\s+(?!about\b|don't\b)"
    r"(?:do|does|did|is|are|was|were|can|could|should|shall|will|would|have|has|much|many|"
    r"long|often|exactly)\b"
    r"|(?:do|does|did|is|are|was|were|can|could|should|shall|will|would|have|has)(?:n't)?\s+"
    r"(?:we|you|they|i|he|she|it|there|anyone|anybody|everyone|somebody|someone)\b"
    r"|i wonder (?:whether|if|what|how|who|when|why|where)\b)",
    re.IGNORECASE,
)
# "We take the yellow one, agreed?": the chair asks the room to settle it.
_AGREEMENT_TAG = re.compile(
    r",?\s*(?:agreed|(?:does |do )?(?:every(?:one|body)|you all) agree|are we (?:all )?agreed"
    r"|(?:is )?(?:that|everyone|everybody) (?:okay|ok|fine|happy)(?: with (?:that|this|it))?"
    r"|happy with that|okay with (?:every(?:one|body)|you all))\s*\?$",
    re.IGNORECASE,
)
# "So we're going for the titanium back?" checks a conclusion; it asks nothing new.
_CONFIRMATION = re.compile(
    r"^(?:so|okay so|ok so|right so|alright so)\b[\s,]*"
    r"(?!(?:what|which|who|whose|where|when|why|how|do|does|did|is|are|was|were|can|could|"
    r"should|shall|will|would|have|has|any|anyone|anybody|anything)\b)",
    re.IGNORECASE,
)

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
    r"|(?:park|table)\s+(?:it|that|this)\b|take\s+(?:it|that|this)\s+offline"
    r"|good question|(?:we'll|we will) (?:have to )?see\s*(?:[.,;!]|$)"
    r"|(?:we'll|we will|we can|let's) (?:decide|figure out) (?:(?:that|it|this) )?later"
    r"|(?:let's|we'll|we will|we can) come back to (?:that|it|this)\b"
    r"|(?:let's|we'll have to|we need to|we have to) find out\b)",
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
_MAX_SUMMARY_WORDS = 45

# Evidence quotes: sentences and words of the segment's text as transcribed.
_SAID_SENTENCE = re.compile(r"[^.!?]+(?:[.!?]+|$)")
_SAID_WORD = re.compile(r"\S+")
_MAX_QUOTE_WORDS = 25
_QUOTE_LEAD_WORDS = 4

# Share of the smaller item's content words two items must have in common to be one item.
_MERGE_OVERLAP = 0.6
# Share of the larger decision's content words two decisions must share to be one.
_SAME_DECISION = 0.75


@dataclass(frozen=True, slots=True)
class _Sentence:
    position: int
    turn: int
    speaker: str | None
    text: str  # cleaned for the rules: no markup, no hesitations, contractions joined
    segment_id: int
    said: str  # the segment's text as transcribed, which evidence quotes verbatim

    @property
    def is_question(self) -> bool:
        """Asks for an answer: "?" alone is not enough, nor needed (speech has no "?")."""
        lead = _PROPOSAL.match(self.text)
        if lead is not None and lead.end() > 0:
            return False  # "Why don't we ...?" puts something forward
        if self.text.endswith("?"):
            return not _is_confirmation(self.text)
        return _QUESTION_FORM.match(_strip_fillers(self.text)) is not None


@dataclass(slots=True)
class _Item:
    text: str
    owner: str | None
    due: str | None
    turn: int
    requested: bool
    said_in: _Sentence  # where the task was said: the evidence


@dataclass(frozen=True, slots=True)
class _Decision:
    text: str
    said_in: _Sentence  # where it was said: the evidence
    score: int  # how plainly it was decided; the capped list keeps the highest


@dataclass(frozen=True, slots=True)
class _OpenQuestion:
    text: str
    said_in: _Sentence  # where it was asked or left open: the evidence


class _People:
    """Names heard in the meeting, so "Carol" can be reported as "Carol Singh"."""

    def __init__(self, names: Iterable[str]) -> None:
        # "Will Smith" must not make every "Will" a person.
        self._roster = Roster(names, common_words=_STOP_WORDS)

    def resolve(self, name: str) -> str | None:
        found = self._roster.match(name)
        if found is not None or " " not in name.strip():
            return found
        # "Then Carol" at the start of a sentence: the name is the last capitalised word.
        return self._roster.match(name.split()[-1])

    def speaker(self, label: str | None) -> str | None:
        # A diarized "Carol" is reported as the invited "Carol Singh". A voice nobody named
        # ("Speaker 2") is no one yet: its "yes, I will" takes on what was asked of someone
        # by name instead of becoming a task of its own.
        if label is None or is_anonymous(label):
            return None
        return self._roster.name_for(label)

    def is_known(self, word: str) -> bool:
        return self._roster.match(word) is not None


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
            key_decisions=[NoteItem(d.text, _evidence(d.said_in, d.text)) for d in decisions],
            action_items=[
                ActionItem(
                    text=item.text,
                    owner=item.owner,
                    due=item.due,
                    evidence=_evidence(item.said_in, item.text),
                )
                for item in actions
            ],
            open_questions=[NoteItem(q.text, _evidence(q.said_in, q.text)) for q in questions],
            key_topics=_topics(sentences, _stop_words(meeting.language)),
            provider=self.name,
            model=None,
        )


def _evidence(sentence: _Sentence, item: str) -> Evidence:
    return Evidence(segment_ids=(sentence.segment_id,), quote=_quote(sentence, item))


def _clean(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = _MARKUP.sub(" ", text)
    text = _HESITATION.sub(" ", text)
    text = _WHITESPACE.sub(" ", text)
    text = _SPLIT_CONTRACTION.sub("", text)
    text = _SPACE_BEFORE_PUNCT.sub("", text)
    text = _REPEATED_PUNCT.sub(r"\1", text)
    text = _REPEATED_WORD.sub(r"\1", text)
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
                sentences.append(
                    _Sentence(
                        len(sentences),
                        turn,
                        utterance.speaker,
                        piece,
                        utterance.segment_id,
                        utterance.text,
                    )
                )
    return sentences


def _quote(sentence: _Sentence, item: str) -> str:
    """A short verbatim span of the segment's own text that says what the item says.

    Cleaning changed the sentence's wording, so the quote is found again in the text as
    transcribed: the transcribed sentence sharing most words with the item, then the window
    of at most _MAX_QUOTE_WORDS words in it covering most of them."""
    wanted = set(_content_words(item)) or set(_content_words(sentence.text))
    best: tuple[int, int] = (0, len(sentence.said))
    best_shared = -1
    for span in _SAID_SENTENCE.finditer(sentence.said):
        shared = len(wanted & set(_content_words(span.group())))
        if shared > best_shared:
            best, best_shared = span.span(), shared
    words = list(_SAID_WORD.finditer(sentence.said, *best))
    # Markup and stray punctuation at either end say nothing.
    while words and not _says_something(words[0].group()):
        words.pop(0)
    while words and not _says_something(words[-1].group()):
        words.pop()
    if not words:
        return sentence.said.strip()
    start = 0
    if len(words) > _MAX_QUOTE_WORDS:
        hits = [set(_content_words(word.group())) & wanted for word in words]
        covered = [
            len(set().union(*hits[i : i + _MAX_QUOTE_WORDS]))
            for i in range(len(words) - _MAX_QUOTE_WORDS + 1)
        ]
        first = covered.index(max(covered))
        hit_at = [i for i in range(first, first + _MAX_QUOTE_WORDS) if hits[i]] or [first]
        # Start a few words before the window's first hit ("we decided to ..."), as far as
        # its last hit still fits.
        start = max(hit_at[0] - _QUOTE_LEAD_WORDS, hit_at[-1] - _MAX_QUOTE_WORDS + 1, 0)
    chosen = words[start : start + _MAX_QUOTE_WORDS]
    return sentence.said[chosen[0].start() : chosen[-1].end()]


def _says_something(token: str) -> bool:
    return not _MARKUP.fullmatch(token) and _HAS_LETTER_OR_DIGIT.search(token) is not None


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


def _overlap(first: str, second: str, *, of_larger: bool = False) -> float:
    """Share of the smaller (or the larger) item's content words the other one has too."""
    # Numbers are shared by unrelated items ("thirty five year olds", "thirty five euros").
    a = set(_content_words(first)) - _NUMBER_WORDS
    b = set(_content_words(second)) - _NUMBER_WORDS
    if not a or not b:
        return 0.0
    return len(a & b) / (max if of_larger else min)(len(a), len(b))


def _strip_fillers(text: str) -> str:
    text = _LEADING_FILLER.sub("", text.strip())
    return _TRAILING_FILLER.sub("", text).strip()


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _as_statement(text: str) -> str:
    return _capitalise(_TRAILING_PUNCT.sub("", _strip_fillers(text)))


def _is_confirmation(text: str) -> bool:
    return any(
        pattern.search(text) is not None
        for pattern in (_CONFIRMATION, _TAG_QUESTION, _AGREEMENT_TAG)
    )


def _decision_text(text: str) -> str | None:
    """The decision as an item, or None when it is too thin or only runs the meeting."""
    text = _INLINE_FILLER.sub("", _DECISION_END.sub("", text))
    text = _TRAILING_PUNCT.sub("", _TRAILING_ASSENT.sub("", text))
    text = _as_statement(_DANGLING_WORD.sub("", text))
    if _RUNS_THE_MEETING.match(text):
        return None
    content = _content_words(text)
    if len([w for w in content if w not in _MEETING_WORDS and w not in _NUMBER_WORDS]) < 2:
        return None
    if len(text.split()) > _MAX_DECISION_WORDS:
        return None
    return text


def _explicit_decision(sentence: _Sentence) -> str | None:
    """ "We decided to ...", "let's go with ...": the decision said in so many words."""
    match = _DECISION.search(sentence.text)
    if match is None:
        return None
    before = sentence.text[: match.start()]
    if _HEDGE.search(before) or not _CLAUSE_OPENING.search(before):
        return None
    decision = _decision_text(sentence.text[match.end() :])
    if decision is None:
        # "The blue case, that's decided.": the decision came before the phrase.
        decision = _decision_text(before)
    return decision


_WRAP_UP_SPLIT = re.compile(r",\s+(?:(?:but|and)(?:\s+then)?\s+)?|\s+(?:but|and then)\s+", re.I)


def _wrap_up_decisions(sentence: _Sentence) -> list[str]:
    """ "If we go away with that: fifteen to thirty-five year olds, simple, ...": one item
    per part of the list, each part long enough to say something on its own."""
    match = _WRAP_UP.search(sentence.text)
    if match is None:
        return []
    parts: list[str] = []
    pending: list[str] = []
    for clause in _WRAP_UP_SPLIT.split(sentence.text[match.end() :]):
        pending.append(clause.strip())
        joined = ", ".join(c for c in pending if c)
        if len(set(_content_words(joined)) - _NUMBER_WORDS) >= _WRAP_UP_ITEM_WORDS:
            parts.append(joined)
            pending = []
    leftover = ", ".join(c for c in pending if c)
    if leftover and parts:
        parts[-1] = f"{parts[-1]}, {leftover}"
    elif leftover:
        parts.append(leftover)
    texts = (_decision_text(part) for part in parts[:_WRAP_UP_ITEMS])
    return [text for text in texts if text is not None]


def _settled_decisions(sentences: Sequence[_Sentence], index: int) -> list[_Sentence]:
    """ "Alright, that's decided.": what the speaker just said is the decision."""
    settled = sentences[index]
    if not _SETTLED.match(settled.text):
        return []
    said: list[_Sentence] = []
    for sentence in reversed(sentences[max(0, index - _SETTLED_LOOKBACK) : index]):
        if (
            sentence.speaker == settled.speaker
            and not sentence.is_question
            and len(_content_words(sentence.text)) >= 3
        ):
            said.append(sentence)
    return said[:2]


def _echoes(reply: str, proposal_words: set[str]) -> bool:
    """The reply says the proposal back: "Titanium back, plastic front." """
    words = set(_content_words(reply))
    shared = words & proposal_words
    return (
        len(reply.split()) <= _ECHO_MAX_WORDS
        and len(shared) >= 2
        and 3 * len(shared) >= 2 * len(words)
    )


def _concludes(text: str, lead: re.Match[str] | None) -> bool:
    """ "So we're going for the titanium back?", "So, hard plastic for the front?": the
    speaker checks a conclusion. A tag ("..., right?") or a fact checked is no proposal."""
    if _AGREEMENT_TAG.search(text):
        return True
    confirmation = _CONFIRMATION.match(text)
    if not text.endswith("?") or confirmation is None:
        return False
    if lead is not None and lead.end() > confirmation.end():
        return True
    return not any(word in _CLAUSE_WORDS for word in _WORD.findall(text.lower()))


def _put_forward(sentences: Sequence[_Sentence], index: int) -> bool:
    """A bare phrase offered as an option, not a report, a fragment or an answer."""
    sentence = sentences[index]
    words = _WORD.findall(sentence.text.lower())
    if not words or len(words) > _MAX_PLAIN_PROPOSAL_WORDS or words[0] in _NOT_A_PROPOSAL_START:
        return False
    if _ASSENT_WORD.search(sentence.text) or _HEDGE.search(sentence.text):
        return False
    if any(word in _CLAUSE_WORDS for word in words) or len(_content_words(sentence.text)) < 3:
        return False
    before = sentences[index - 1] if index else None
    return before is None or before.speaker == sentence.speaker or not before.is_question


def _proposal_score(sentences: Sequence[_Sentence], index: int) -> tuple[int, str] | None:
    """How firmly the others took up what this sentence puts forward, and what it is."""
    proposal = sentences[index]
    if proposal.speaker is None or len(proposal.text.split()) > _MAX_PROPOSAL_WORDS:
        return None
    if proposal.is_question:
        return None
    lead = _PROPOSAL.match(proposal.text)
    text = proposal.text[lead.end() :] if lead is not None else proposal.text
    text = _AGREEMENT_TAG.sub("", text)
    if _concludes(proposal.text, lead):
        strength = 2
    elif lead is not None and lead.end() > 0:
        strength = 1
    elif _put_forward(sentences, index):
        strength = 0
    else:
        return None
    decision = _decision_text(text)
    if decision is None:
        return None
    proposal_words = set(_content_words(decision))
    strong: set[str] = set()
    weak: set[str] = set()
    for reply in sentences[index + 1 : index + 1 + _REACTION_SENTENCES]:
        # Cleaning took out the "mm" of "Mm, I suppose", not its comma.
        said = reply.text.lstrip(" ,.;")
        if reply.speaker in (proposal.speaker, None):
            if reply.turn != proposal.turn and len(_content_words(said)) >= 3:
                break  # the proposer moved on
            continue
        if reply.is_question:
            # "Titanium back?" asks what was meant; it takes nothing up.
            if len(_content_words(said)) >= 3:
                break
            continue
        if _REJECTION.match(said) and _content_words(said):
            if not strong and not weak:
                return None
            break
        if _echoes(said, proposal_words) or _STRONG_ASSENT.search(said):
            strong.add(reply.speaker)
        elif _WEAK_ASSENT.match(said) or _ASSENT_LEAD.match(said) or _HEDGED_ASSENT.match(said):
            weak.add(reply.speaker)
        elif len(_content_words(said)) >= 3:
            break  # the talk moved on
    # A bare statement needs more than a "yeah": in real talk "yeah" only means "go on".
    if not strong and (strength == 0 or not weak):
        return None
    score = strength + (2 if strong else 0) + (1 if weak else 0) + (len(strong | weak) >= 2)
    return (score, decision) if score >= _MIN_PROPOSAL_SCORE else None


def _decisions(sentences: Sequence[_Sentence]) -> list[_Decision]:
    candidates: list[_Decision] = []
    for index, sentence in enumerate(sentences):
        for source in _settled_decisions(sentences, index):
            text = _decision_text(source.text)
            if text is not None:
                candidates.append(_Decision(text, source, _SCORE_SETTLED))
        if sentence.is_question and not _is_confirmation(sentence.text):
            continue
        wrapped = _wrap_up_decisions(sentence)
        candidates.extend(_Decision(text, sentence, _SCORE_WRAP_UP) for text in wrapped)
        if wrapped:
            continue
        explicit = None if sentence.is_question else _explicit_decision(sentence)
        if explicit is not None:
            candidates.append(_Decision(explicit, sentence, _SCORE_EXPLICIT))
            continue
        will_be = _WILL_BE.match(sentence.text)
        text = None if will_be is None else _decision_text(sentence.text[will_be.end() :])
        if text is not None:
            candidates.append(_Decision(text, sentence, _SCORE_WILL_BE))
            continue
        proposed = _proposal_score(sentences, index)
        if proposed is not None:
            candidates.append(_Decision(proposed[1], sentence, proposed[0]))
    kept: list[_Decision] = []
    for candidate in sorted(candidates, key=lambda d: (-d.score, d.said_in.position)):
        # Decisions about one thing share words without being one ("the pilot runs in
        # Leeds", "the rollout waits until the pilot has run"): one said twice is mostly
        # the same words, in both.
        if any(
            _overlap(candidate.text, seen.text, of_larger=True) >= _SAME_DECISION for seen in kept
        ):
            continue
        kept.append(candidate)
        if len(kept) == _MAX_DECISIONS:
            break
    return sorted(kept, key=lambda d: d.said_in.position)


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

    def add(text: str, source: _Sentence) -> None:
        claimed.add(source.position)
        if not any(_overlap(text, q.text) >= _MERGE_OVERLAP for q in found):
            found.append(_OpenQuestion(text, source))

    for index, sentence in enumerate(sentences):
        lead = _OPEN_LEAD.search(sentence.text)
        if lead is not None:
            rest = sentence.text[lead.end() :]
            before = _strip_fillers(sentence.text[: lead.start()])
            if len(_content_words(rest)) >= 2:
                add(_question_text(rest), sentence)
            elif len(_content_words(before)) >= 2:
                # "Whether we need a privacy review is an open question."
                add(_question_text(before.rsplit(" is ", 1)[0]), sentence)
            elif index + 1 < len(sentences):
                # "One open question. Do we need ...?": the question is the next sentence.
                following = sentences[index + 1]
                if following.is_question or (
                    following.turn == sentence.turn and len(_content_words(following.text)) >= 3
                ):
                    add(_question_text(following.text), following)
            continue
        undecided = None if sentence.is_question else _UNDECIDED.search(sentence.text)
        if undecided is not None:
            embedded = _EMBEDDED_QUESTION.match(sentence.text[undecided.end() :])
            if embedded is not None and len(_content_words(embedded.group("question"))) >= 2:
                add(_question_text(embedded.group("question")), sentence)
                continue
            clause = _CLAUSE_SPLIT.split(sentence.text[: undecided.start()])[-1]
            if any(w not in _PRONOUNS for w in _content_words(clause)):
                # "The venue is still to be decided." names what is open itself.
                add(_as_statement(sentence.text), sentence)
                continue
        if undecided is not None or _OPEN_RESPONSE.search(sentence.text):
            asked = _question_left_open(sentences, index)
            if asked is not None and asked.position not in claimed:
                add(_question_text(asked.text), asked)
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


@functools.cache
def _stop_words(language: str | None) -> frozenset[str]:
    """English's, and the meeting's language's (from stopwordsiso) when it is another."""
    primary = (language or "en").split("-")[0].split("_")[0].casefold()
    if primary == "en" or not stopwordsiso.has_lang(primary):
        return _STOP_WORDS
    return _STOP_WORDS | frozenset(stopwordsiso.stopwords(primary))


def _frequent_phrases(sentences: Sequence[_Sentence], stop_words: frozenset[str]) -> list[str]:
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
                    or word in stop_words
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


def _topics(sentences: Sequence[_Sentence], stop_words: frozenset[str]) -> list[str]:
    topics: list[str] = []
    covered: list[set[str]] = []
    for phrase in [*_announced_topics(sentences), *_frequent_phrases(sentences, stop_words)]:
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
