"""Inquiries, meetings, the joint conference and public submissions: one Query and one Mutation mixin.

The parts live in api/graphql/{inquiries,meetings,public}.py; schema.py adds these mixins and types.
"""

from __future__ import annotations

import strawberry

from api.graphql.inquiries import Inquiry, InquiryMutation, InquiryQuery
from api.graphql.meetings import (
    ActionItem,
    JointConferenceSession,
    Meeting,
    MeetingInvitation,
    MeetingMutation,
    MeetingQuery,
)
from api.graphql.public import PublicMutation, PublicQuery, PublicSubmission


@strawberry.type
class LiaisonQuery(InquiryQuery, MeetingQuery, PublicQuery):
    """Queries of Art. 17, 25, 28–31 and 35."""


@strawberry.type
class LiaisonMutation(InquiryMutation, MeetingMutation, PublicMutation):
    """Mutations of Art. 17, 25, 28–31 and 35."""


LIAISON_TYPES = [Inquiry, Meeting, MeetingInvitation, ActionItem, JointConferenceSession, PublicSubmission]
